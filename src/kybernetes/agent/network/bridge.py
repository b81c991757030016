"""``BridgeNetwork``: the ``NetworkPlugin`` of a real node — one bridge, a veth and netns per pod.

The node's pods hang off one Linux bridge (``kyb0`` by default) that carries the first address of
the node's pod CIDR as their gateway. Each sandbox gets a named network namespace
(``/run/netns/kyb-<short id>``), a veth pair (host end ``kybv<hash>`` on the bridge, the other
end ``eth0`` in the namespace with the bridge's MTU), an address from the node's pod CIDR
(``agent.ipam.IPPool``; the network address, the gateway and the broadcast address are never
handed out), a default route via the gateway, and ``lo`` up. hostPorts and masquerading live in
one nftables table owned by the agent (``rules.py``), rewritten atomically whenever the set of
mappings changes. ``hostNetwork`` pods get nothing: ``host_network()`` says where they live.

Node settings made by ``prepare`` (idempotent, also run by the first ``setup``/``restore``):
forwarding on the bridge only (``net.ipv4.conf.<bridge>.forwarding=1``: enough for pod to pod,
pod to gateway and hostPorts; the kernel decides forwarding by the flag of the interface a packet
*arrives* on), ``route_localnet=1`` on the bridge for hostPorts on 127.0.0.1,
``net.bridge.bridge-nf-call-iptables=1`` (the default; pod to another pod's hostPort needs the
bridged reply to pass conntrack), and only when ``ip_forward`` is asked for, the global
``net.ipv4.ip_forward=1``. That one is global by nature: it is a single switch per network
namespace, and writing it rewrites the forwarding flag of *every* interface. It is needed for
anything arriving on another interface — replies to pods' traffic to the outside world, clients
of hostPorts on other machines, pods of other nodes — and it turns the host into a router for
all its interfaces, so it is off unless asked for (the CNI bridge plugin turns it on silently).

Invariants: an address belongs to at most one sandbox, also across agent restarts (records are
written before anything is created and removed after everything is gone, see ``state.py``); the
nftables table holds exactly the hostPorts of the sandboxes set up; ``teardown`` is idempotent
and leaves no link, namespace, rule or record of the sandbox behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from kybernetes.agent.ipam import IPPool
from kybernetes.agent.network import links, netns, rules, sysctl
from kybernetes.agent.network.interface import NetworkError, PodNetwork
from kybernetes.agent.network.state import SandboxRecord, StateStore, valid_sandbox_id
from kybernetes.agent.runtime.interface import PortMapping

log = logging.getLogger(__name__)

HOST_IFNAME_PREFIX: Final = "kybv"
_CRI_ID: Final = re.compile(r"[0-9a-f]{32,}")


@dataclass(frozen=True)
class BridgeConfig:
    pod_cidr: str  # the node's spec.podCIDR, e.g. 10.42.0.0/24
    state_dir: str  # where the per-sandbox records live
    bridge: str = "kyb0"
    cluster_cidr: str = ""  # all nodes' pod CIDRs (not masqueraded); "" means pod_cidr
    table: str = "kyb-podnet"  # the nftables table (family ip) owned by this agent
    netns_dir: str = netns.NETNS_DIR
    netns_prefix: str = "kyb-"
    mtu: int = 0  # 0: the bridge's MTU
    ip_forward: bool = False  # global net.ipv4.ip_forward=1 (see the module docstring)
    masquerade: bool = True  # pod traffic leaving cluster_cidr takes the node's address
    localhost_hostports: bool = True  # hostPorts also on 127.0.0.1
    egress: bool = True  # False: nothing forwarded between the bridge and other interfaces
    node_ip: str = ""  # for hostNetwork pods; "" means the address of the default route


def netns_name(prefix: str, sandbox_id: str) -> str:
    """``<prefix><12 chars>``: the id's own head for CRI-style hex ids, else a hash of it."""
    if _CRI_ID.fullmatch(sandbox_id):
        return prefix + sandbox_id[:12]
    return prefix + hashlib.sha256(sandbox_id.encode()).hexdigest()[:12]


def host_ifname(sandbox_id: str) -> str:
    """``kybv`` + 11 hex chars of a hash of the id: 15 characters, the kernel's limit."""
    return HOST_IFNAME_PREFIX + hashlib.sha256(sandbox_id.encode()).hexdigest()[:11]


def host_pod_network(node_ip: str, prefix_length: int) -> PodNetwork:
    """Where a hostNetwork pod lives: the agent's own namespace and the node's address."""
    return PodNetwork(
        netns_path=f"/proc/{os.getpid()}/ns/net",
        ip=node_ip,
        gateway="",
        prefix_length=prefix_length,
    )


class BridgeNetwork:
    """Pod networking on one node: bridge, veth pairs, namespaces, IPAM, hostPort rules."""

    def __init__(self, config: BridgeConfig) -> None:
        network = ipaddress.ip_network(config.pod_cidr)
        if network.version != 4 or network.prefixlen > 30:
            raise ValueError(f"pod CIDR {config.pod_cidr} must be IPv4 and hold pods (/30 or more)")
        self.config = config
        self.gateway = str(network.network_address + 1)
        self.prefix_length = network.prefixlen
        self._pool = IPPool(str(network))
        self._store = StateStore(config.state_dir)
        self._records: dict[str, SandboxRecord] = {}
        self._lock = asyncio.Lock()  # records and pool
        self._rules_lock = asyncio.Lock()  # one nft transaction at a time
        self._prepared = False
        self._mtu = config.mtu
        self._rules = rules.RulesConfig(
            table=config.table,
            bridge=config.bridge,
            pod_cidr=str(network),
            cluster_cidr=config.cluster_cidr or str(network),
            masquerade=config.masquerade,
            localhost=config.localhost_hostports,
            egress=config.egress,
        )

    # node level

    async def prepare(self) -> None:
        """Create or adopt the bridge, set the node's sysctls, write the nftables table."""
        async with self._lock:
            if self._prepared:
                return
            config = self.config
            try:
                self._mtu = await asyncio.to_thread(
                    links.ensure_bridge, config.bridge, self.gateway, self.prefix_length, config.mtu
                )
                self._node_sysctls()
            except (OSError, links.LinkError) as error:
                raise NetworkError(f"bridge {config.bridge}: {error}") from error
            self._prepared = True
        await self._sync_rules()
        log.info(
            "pod network ready bridge=%s gateway=%s/%d mtu=%d table=%s",
            config.bridge,
            self.gateway,
            self.prefix_length,
            self._mtu,
            config.table,
        )

    def _node_sysctls(self) -> None:
        bridge = self.config.bridge
        sysctl.ensure(("ipv4", "conf", bridge, "forwarding"), "1")
        if self.config.localhost_hostports:
            sysctl.ensure(("ipv4", "conf", bridge, "route_localnet"), "1")
        if not sysctl.ensure(("bridge", "bridge-nf-call-iptables"), "1"):
            log.warning("br_netfilter missing: pod to hostPort of another pod on this node fails")
        if self.config.ip_forward:
            sysctl.ensure(("ipv4", "ip_forward"), "1")

    async def remove_node(self) -> None:
        """Remove the nftables table and the bridge (when no sandbox is left); for tests and
        decommissioning. Sysctls are left as they are."""
        async with self._lock:
            if self._records:
                raise NetworkError(f"{len(self._records)} sandboxes still have a network")
            self._prepared = False
        async with self._rules_lock:
            await rules.apply(rules.render_delete(self.config.table))
        await asyncio.to_thread(links.delete_link, self.config.bridge)
        log.info("pod network removed bridge=%s table=%s", self.config.bridge, self.config.table)

    async def host_network(self) -> PodNetwork:
        """The ``PodNetwork`` of a hostNetwork pod on this node (nothing is set up for it)."""
        try:
            address, prefix = await asyncio.to_thread(links.node_address, self.config.node_ip)
        except (OSError, links.LinkError) as error:
            raise NetworkError(f"node address: {error}") from error
        return host_pod_network(address, prefix)

    # sandboxes

    def sandboxes(self) -> dict[str, SandboxRecord]:
        return dict(self._records)

    async def setup(
        self, sandbox_id: str, name: str, namespace: str, ports: Sequence[PortMapping]
    ) -> PodNetwork:
        if not valid_sandbox_id(sandbox_id):
            raise NetworkError(
                f"sandbox id {sandbox_id!r} has characters other than [A-Za-z0-9_.-]"
            )
        await self.prepare()
        started = time.perf_counter()
        async with self._lock:
            existing = self._records.get(sandbox_id)
            if existing is not None:
                return self._pod_network(existing)
            record = self._reserve(sandbox_id, name, namespace, ports)
            try:
                await asyncio.to_thread(self._store.save, record)
            except OSError as error:
                self._pool.release(sandbox_id)
                raise NetworkError(f"saving the network record: {error}") from error
            self._records[sandbox_id] = record
        spec = links.PodLinks(
            netns_name=record.netns,
            netns_dir=self.config.netns_dir,
            host_ifname=record.host_ifname,
            bridge=self.config.bridge,
            ip=record.ip,
            prefix_length=self.prefix_length,
            gateway=self.gateway,
            mtu=self._mtu,
        )
        try:
            await netns.run_in_thread(lambda: links.plumb_pod(spec))
            if record.ports:
                await self._sync_rules()
        except BaseException as error:
            await self.teardown(sandbox_id)
            self._prepared = False  # the bridge or table may be what is missing: redo them next
            if isinstance(error, Exception):
                raise NetworkError(f"pod network of {namespace}/{name}: {error}") from error
            raise
        log.info(
            "pod network set up sandbox=%s pod=%s/%s ip=%s netns=%s veth=%s hostports=%d ms=%.1f",
            sandbox_id,
            namespace,
            name,
            record.ip,
            record.netns,
            record.host_ifname,
            len(record.ports),
            (time.perf_counter() - started) * 1000,
        )
        return self._pod_network(record)

    def _reserve(
        self, sandbox_id: str, name: str, namespace: str, ports: Sequence[PortMapping]
    ) -> SandboxRecord:
        """Pick the address and check the hostPorts (under the lock)."""
        mapped = tuple(port for port in ports if port.host_port)
        wanted = [_hostport(sandbox_id, "0.0.0.0", port) for port in mapped]
        for mapping in wanted:
            problem = rules.usable(mapping)
            if problem is not None:
                raise NetworkError(f"hostPort {mapping.host_port}: {problem}")
        clashes = rules.conflicts(self._hostports(), wanted)
        if clashes:
            raise NetworkError("; ".join(clashes))
        address = self._pool.allocate(sandbox_id)
        if address is None:
            raise NetworkError(f"no free address left in pod CIDR {self.config.pod_cidr}")
        return SandboxRecord(
            sandbox_id=sandbox_id,
            name=name,
            namespace=namespace,
            netns=netns_name(self.config.netns_prefix, sandbox_id),
            host_ifname=host_ifname(sandbox_id),
            ip=address,
            ports=mapped,
        )

    async def teardown(self, sandbox_id: str) -> None:
        if not valid_sandbox_id(sandbox_id):
            return  # setup refuses such ids, so nothing can exist for it
        async with self._lock:
            record = self._records.get(sandbox_id)
        await self._remove(sandbox_id, record)

    async def _remove(self, sandbox_id: str, record: SandboxRecord | None) -> None:
        if record is not None:
            names = (record.netns, record.host_ifname)
        else:  # unknown: the names are derived from the id, so clean them anyway
            names = (netns_name(self.config.netns_prefix, sandbox_id), host_ifname(sandbox_id))
        started = time.perf_counter()
        try:
            await netns.run_in_thread(
                lambda: links.unplumb_pod(names[0], self.config.netns_dir, names[1])
            )
        except (OSError, links.LinkError) as error:
            raise NetworkError(f"removing the network of sandbox {sandbox_id}: {error}") from error
        async with self._lock:
            self._records.pop(sandbox_id, None)
        if record is not None and record.ports:
            await self._sync_rules()  # before the address can go to another pod
        async with self._lock:
            self._pool.release(sandbox_id)
        await asyncio.to_thread(self._store.delete, sandbox_id)
        if record is not None:
            log.info(
                "pod network torn down sandbox=%s ip=%s ms=%.1f",
                sandbox_id,
                record.ip,
                (time.perf_counter() - started) * 1000,
            )

    async def restore(self, sandbox_ids: Sequence[str]) -> None:
        """Adopt the records of ``sandbox_ids``; remove the network of every other record."""
        await self.prepare()
        keep = set(sandbox_ids)
        on_disk = await asyncio.to_thread(lambda: list(self._store.load()))
        stale: list[SandboxRecord] = []
        async with self._lock:
            known = {record.sandbox_id: record for record in on_disk}
            known.update(self._records)
            for sandbox_id, record in sorted(known.items()):
                if sandbox_id not in keep:
                    stale.append(record)
                elif self._pool.claim(record.ip, sandbox_id):
                    self._records[sandbox_id] = record
                    if not netns.exists(record.netns, self.config.netns_dir):
                        log.warning("restored sandbox has no netns sandbox=%s", sandbox_id)
                else:
                    log.error("address taken twice sandbox=%s ip=%s", sandbox_id, record.ip)
                    stale.append(record)
        for record in stale:
            log.info("stale pod network removed sandbox=%s", record.sandbox_id)
            self._records.pop(record.sandbox_id, None)
            await self._remove(record.sandbox_id, record)
        await self._sync_rules()
        log.info("pod network restored sandboxes=%d removed=%d", len(self._records), len(stale))

    # helpers

    def _hostports(self) -> list[rules.HostPort]:
        return [
            _hostport(record.sandbox_id, record.ip, port)
            for record in self._records.values()
            for port in record.ports
        ]

    async def _sync_rules(self) -> None:
        async with self._rules_lock:
            script = rules.render(self._rules, self._hostports())
            try:
                await rules.apply(script)
            except rules.RulesError as error:
                raise NetworkError(str(error)) from error

    def _pod_network(self, record: SandboxRecord) -> PodNetwork:
        return PodNetwork(
            netns_path=netns.path_of(record.netns, self.config.netns_dir),
            ip=record.ip,
            gateway=self.gateway,
            prefix_length=self.prefix_length,
        )


def _hostport(sandbox_id: str, pod_ip: str, port: PortMapping) -> rules.HostPort:
    return rules.HostPort(
        sandbox_id=sandbox_id,
        protocol=port.protocol,
        host_port=port.host_port,
        host_ip=port.host_ip,
        pod_ip=pod_ip,
        container_port=port.container_port,
    )
