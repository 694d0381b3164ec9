"""The service window: 代办 of a case by the village agent and 首问负责 of enquiries."""
