"""Subresources with behaviour of their own: scale, binding, eviction."""
