"""The service window as citizens meet it: the public guide, the public case query and appointments."""
