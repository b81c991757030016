"""The HorizontalPodAutoscaler controller: ``controller.py`` reconciles, ``replicas.py``
proposes counts from metrics, ``behavior.py`` stabilizes and rate-limits them,
``metricsclient.py`` reads ``metrics.k8s.io``, ``scaletarget.py`` reads and writes scales."""

from kybernetes.controllers.hpa.controller import HorizontalPodAutoscalerController

__all__ = ["HorizontalPodAutoscalerController"]
