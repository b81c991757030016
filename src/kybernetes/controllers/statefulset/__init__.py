"""The StatefulSet controller: ``identity`` (names, labels, claims of an ordinal), ``plan`` (what
one sync does, purely), ``pods`` (the writes and their events) and ``controller`` (the sync loop).
"""

from kybernetes.controllers.statefulset.controller import StatefulSetController

__all__ = ["StatefulSetController"]
