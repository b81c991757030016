"""The Job controller package: pod helpers, pure decisions, finalizer tracking, the controller."""

from kybernetes.controllers.job.controller import JobController

__all__ = ["JobController"]
