"""The outbox: calls to connectors written in a case's transaction and sent later, never inside the case lock."""
