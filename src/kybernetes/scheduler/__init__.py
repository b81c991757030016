"""The scheduler: binds pending pods to nodes."""
