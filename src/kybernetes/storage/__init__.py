"""Storage engines behind the API server: sqlite (default), etcd, memory (tests)."""
