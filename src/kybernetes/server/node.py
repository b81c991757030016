"""A real node: the agent (kubelet over runc) and the node services beside it.

``run_node`` is what ``kyb server`` runs for its own machine and what ``kyb agent --runtime
runc`` runs on a machine joining a cluster. The node services (service proxy, cluster DNS,
network policy, and where asked ServiceLB and the ingress controller) need the node's pod
CIDR, which is known only once the Node is registered — the agent may have to wait for the
control plane's node IPAM controller to assign it — so they start when the agent says so.
"""

from __future__ import annotations

import asyncio
import dataclasses

from kybernetes.agent.local import NodeAgentConfig, run_runc_node
from kybernetes.client.rest import Client
from kybernetes.server.nodeservices import NodeServicesConfig, run_node_services


async def run_node(client: Client, agent: NodeAgentConfig, services: NodeServicesConfig) -> None:
    """Run the agent and, once its pod CIDR is known, its node services, until cancelled.

    ``services.pod_cidr`` is replaced by the CIDR the agent's Node ends up with; its bridge and
    cluster CIDR are the agent's.
    """
    pod_cidr: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with asyncio.TaskGroup() as group:
        group.create_task(run_runc_node(client, agent, pod_cidr), name="node agent")
        cidr = await pod_cidr
        config = dataclasses.replace(
            services, pod_cidr=cidr, bridge=agent.bridge, cluster_cidr=agent.cluster_cidr
        )
        group.create_task(run_node_services(client, config), name="node services")
