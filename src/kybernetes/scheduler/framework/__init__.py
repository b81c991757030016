"""The scheduling framework: plugin protocols, per-pod and per-node facts, and the runtime."""
