"""Kybernetes: Kubernetes, rebuilt in Python.

The package is layered (see DESIGN.md section 2); imports point down only:
cli -> server -> apiserver | controllers | scheduler | agent | network -> client -> storage
-> api -> util. ``tools/lint-imports`` (import-linter) enforces it.
"""

__version__ = "0.1.0"
