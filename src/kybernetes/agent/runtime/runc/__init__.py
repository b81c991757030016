"""The runc runtime: pods as runc containers, each with a small shim (see ``runtime.py``)."""

from kybernetes.agent.runtime.runc.runtime import RuncRuntime

__all__ = ["RuncRuntime"]
