"""Schema-driven and semantic validation of API objects."""
