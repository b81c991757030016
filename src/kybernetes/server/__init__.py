"""The all-in-one wiring: every component of a cluster in one process, like k3s.

Components never call each other (DESIGN.md section 1); this package only starts them side by
side over one storage engine and stops them together.
"""
