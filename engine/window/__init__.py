"""The service window: the public guide, case query and appointments; 代办 of a case and 首问负责 of enquiries."""
