"""Which container of which pod on which node a log, exec, attach or port-forward is for.

The rules and messages are upstream's: without ``container``, the
``kubectl.kubernetes.io/default-container`` annotation names it, else the only container;
several containers and no choice is a 400 listing them; a container the pod does not have is
a 400; a pod that is not scheduled has no host to ask.

Invariant: pure lookups over the stores; nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kybernetes.api import errors

if TYPE_CHECKING:
    from kybernetes.apiserver.handlers import ResourceHandler

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


def _names(pod: Mapping[str, Any], key: str) -> list[str]:
    return [str(c.get("name", "")) for c in (pod.get("spec") or {}).get(key) or ()]


def container_name(pod: Mapping[str, Any], requested: str) -> str:
    name = str((pod.get("metadata") or {}).get("name", ""))
    containers = _names(pod, "containers")
    init = _names(pod, "initContainers")
    ephemeral = _names(pod, "ephemeralContainers")
    if not requested:
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        default = annotations.get(DEFAULT_CONTAINER, "")
        if default and default in containers:
            return str(default)
        if len(containers) == 1:
            return containers[0]
        message = (
            f"a container name must be specified for pod {name}, "
            f"choose one of: [{' '.join(containers)}]"
        )
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        if ephemeral:
            message += f" or one of the ephemeral containers: [{' '.join(ephemeral)}]"
        raise errors.new_bad_request(message)
    if requested not in (*containers, *init, *ephemeral):
        raise errors.new_bad_request(f"container {requested} is not valid for pod {name}")
    return requested


async def pod_and_node(
    handler: ResourceHandler, namespace: str, name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod, and the node it runs on."""
    pods = handler.stores[("", "pods")]
    pod = (await pods.get(namespace, name)).obj
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.new_bad_request(f"pod {name} does not have a host assigned")
    nodes = handler.stores[("", "nodes")]
    node = (await nodes.get("", str(node_name))).obj
    return pod, node
