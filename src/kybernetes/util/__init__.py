"""Small helpers shared by every layer (no Kubernetes knowledge)."""
