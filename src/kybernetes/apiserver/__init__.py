"""The Kubernetes API server: REST, watch, discovery, admission, registry."""
