"""The DaemonSet controller: ``placement`` (node eligibility, tolerations, pinning), ``nodes``
(per-node decisions and status), ``rolling`` (update steps), ``revisions`` (its history) and
``controller`` (the sync loop).
"""

from kybernetes.controllers.daemonset.controller import DaemonSetController

__all__ = ["DaemonSetController"]
