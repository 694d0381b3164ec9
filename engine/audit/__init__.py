"""The case history: a hash chain of events that proves it was not edited, and what the events say."""
