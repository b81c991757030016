"""The Deployment controller (``controller``) and the parts of a rollout it is built from."""

from kybernetes.controllers.deployment.controller import DeploymentController

__all__ = ["DeploymentController"]
