"""Controllers that converge the cluster to its declared state."""
