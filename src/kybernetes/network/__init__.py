"""Node networking services: service proxy, cluster DNS, ingress."""
