"""The node agent (kubelet): runs pods as containers."""
