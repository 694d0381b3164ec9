"""Bianmin case engine: everything that runs procedures, without Flask."""
