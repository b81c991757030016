"""Service ClusterIP and NodePort allocation, as kube-apiserver 1.32 does it.

What upstream spreads over ``ipallocator`` (the bitmap ``Range``), ``portallocator`` and
``registry/core/service/storage`` (``alloc.go``, ``patchAllocatedValues``, ``beginCreate``,
``beginUpdate``, ``afterDelete``) is one object here, ``ServiceAllocator``; the registry calls it
around its store writes:

* ``allocate_for_create(service)`` before validation on create, ``reconcile_update(old, new)``
  before validation on update: both fill in the spec (``clusterIP(s)``, ``ipFamilies``,
  ``ipFamilyPolicy``, ``ports[].nodePort``, ``healthCheckNodePort``) and return a
  ``Reservation`` that is ``commit()``-ed once the write is durable or ``release()``-d when
  anything fails (it is a context manager that releases unless committed).
* ``release_for_delete(service)`` after a Service is gone from storage.
* ``rebuild(services)`` at start (and from a repair loop): the bitmaps become what the stored
  Services hold. ``find_conflicts(services)`` is the repair loop's check.
* ``drop_type_dependent_fields(new, old)`` is the Service strategy's ``PrepareForUpdate`` step
  that wipes what a type change made meaningless (nodePorts when NodePort becomes ClusterIP).

Allocation order (upstream's offset rule): a range is split at ``min(max(16, size/step), max)``
(IPs: step 16, at most 256; ports: step 32, at most 128; no split for 16 values or fewer).
Dynamic allocation starts at a random point of the upper band and scans forward, wrapping; only
when the upper band is full does it use the lower band, which is kept for static requests (the
``kubernetes`` Service at the first address, DNS at ``.10``). For 10.43.0.0/16 the lower band is
10.43.0.1-10.43.1.0; for 30000-32767 it is 30000-30085.

Invariants:

* The stored Services are the source of truth: a value is marked in a bitmap iff a stored Service
  holds it, a pending reservation took it, or a committed change newer than the last rebuild's
  snapshot holds it (``commit(revision)`` records the write's revision for that). Given true
  revisions (and fewer than 4096 changes between a snapshot and its rebuild), every way the
  snapshot and the records can disagree leaves a value held too long, never free too early.
* Nothing is handed out twice by one allocator: every method is synchronous and marks the bitmap
  before returning, so on one event loop two creates in flight never get the same value.
* Releasing errs on the side of leaking: values an update gives up are freed on ``commit()``, after
  the write is durable; values a failed write took are freed on ``release()``.
* Dynamic allocation never hands out the first address (``kubernetes_service_ip``); a request
  naming it gets it.
* Network and (IPv4) broadcast addresses are never allocatable.

Non-goal for now: several API servers over one etcd. Each allocator is in-memory, so two servers
could hand out the same value. Upstream (bitmap mode, the 1.32 default) keeps the bitmap itself
as an object in etcd (``/registry/ranges/serviceips``, ``.../servicenodeports``) written with
compare-and-swap on every allocation, and a repair loop in every API server periodically rebuilds
it from the list of Services, reporting duplicates and out-of-range values and reclaiming leaks
after three sightings. ``find_conflicts`` is that check; the object and the CAS are not built.
Not thread-safe: call from one event loop.
"""

from __future__ import annotations

import ipaddress
import random
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from kybernetes.api import errors
from kybernetes.api.defaults import normalize_cluster_ips
from kybernetes.api.validation.common import parse_ip
from kybernetes.api.validation.services import _cluster_ips as validate_cluster_ip_fields

__all__ = [
    "DEFAULT_NODE_PORT_RANGE",
    "DEFAULT_SERVICE_CIDR",
    "Reservation",
    "ServiceAllocator",
    "drop_type_dependent_fields",
]

DEFAULT_SERVICE_CIDR = "10.43.0.0/16"
DEFAULT_NODE_PORT_RANGE = (30000, 32767)

_FULL = "range is full"
_IP_TAKEN = "provided IP is already allocated"
_PORT_TAKEN = "provided port is already allocated"
_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
# Committed changes remembered for rebuilds from a snapshot older than them.
_JOURNAL_LIMIT = 4096

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# --------------------------------------------------------------------------------------------
# Reading a Service loosely (it may not be validated yet).


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _strs(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _ports(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    ports = spec.get("ports")
    return [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []


def _node_ports(spec: Mapping[str, Any]) -> list[int]:
    return [n for p in _ports(spec) if (n := _int(p.get("nodePort")))]


def _needs_cluster_ip(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") != "ExternalName"


def _needs_node_port(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") in _NODE_PORT_TYPES


def _needs_health_check(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _allocates_node_ports(spec: Mapping[str, Any]) -> bool:
    kind = spec.get("type")
    return kind == "NodePort" or (
        kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False
    )


def _externally_accessible(spec: Mapping[str, Any]) -> bool:
    kind = spec.get("type")
    return kind in _NODE_PORT_TYPES or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def _headless(spec: Mapping[str, Any]) -> bool:
    ips = _strs(spec.get("clusterIPs"))
    return bool(ips) and ips[0] == "None"


def _cluster_ip_list(spec: Mapping[str, Any]) -> list[str]:
    """The IPs a stored Service holds (``clusterIP`` alone for objects older than the plural)."""
    if not _needs_cluster_ip(spec):
        return []
    ips = _strs(spec.get("clusterIPs")) or [v for v in [spec.get("clusterIP")] if v]
    return [] if ips[:1] == ["None"] else [v for v in ips if isinstance(v, str)]


def _key(service: Mapping[str, Any]) -> str:
    meta = service.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _family_of(address: str) -> str:
    parsed = parse_ip(address)
    return "unknown" if parsed is None else f"IPv{parsed.version}"


def _range_offset(size: int, low: int, high: int, step: int) -> int:
    """``calculateRangeOffset``: ``min(max(low, size // step), high)``; 0 for tiny ranges."""
    return 0 if size <= low else min(max(low, size // step), high)


# --------------------------------------------------------------------------------------------
# The bitmap.


class _Bitmap:
    """Which of ``size`` values are taken, with upstream's two-band random scan.

    Indices below ``first_dynamic`` are never returned by ``next`` (only taken by request).
    """

    __slots__ = ("_bits", "count", "first_dynamic", "offset", "size")

    def __init__(self, size: int, offset: int, first_dynamic: int = 0) -> None:
        self.size, self.offset, self.first_dynamic = size, offset, first_dynamic
        self._bits = bytearray(size)
        self.count = 0

    def has(self, i: int) -> bool:
        return self._bits[i] == 1

    def take(self, i: int) -> bool:
        if self._bits[i]:
            return False
        self._bits[i] = 1
        self.count += 1
        return True

    def free(self, i: int) -> None:
        if self._bits[i]:
            self._bits[i] = 0
            self.count -= 1

    def next(self, rng: random.Random) -> int | None:
        """Take a free index: upper band first, each band scanned from a random start."""
        low = self.first_dynamic
        for lo, hi in ((max(self.offset, low), self.size), (low, self.offset)):
            if lo >= hi:
                continue
            start = rng.randrange(lo, hi)
            at = self._bits.find(0, start, hi)
            if at < 0:
                at = self._bits.find(0, lo, start)
            if at >= 0:
                self.take(at)
                return at
        return None

    def clear(self) -> None:
        self._bits = bytearray(self.size)
        self.count = 0


# --------------------------------------------------------------------------------------------
# Reservations.


class Reservation:
    """What one create or update took and gives up, pending until its store write is decided.

    ``commit(revision)`` after the write succeeded: the values given up are freed (and the change
    is remembered, by revision, for rebuilds from older snapshots). ``release()`` when it failed
    (or was a dry run): the values taken are freed and the given-up ones stay held. Either is
    final; ``release()`` after ``commit()`` does nothing, so ``with reservation:`` is safe.
    """

    __slots__ = ("_alloc", "_free_ips", "_free_ports", "_ips", "_ports", "_state")

    def __init__(self, alloc: ServiceAllocator | None) -> None:
        self._alloc = alloc
        self._ips: list[int] = []
        self._ports: list[int] = []
        self._free_ips: list[int] = []
        self._free_ports: list[int] = []
        self._state: Literal["pending", "committed", "released"] = "pending"
        if alloc is not None:
            alloc._pending.add(self)

    @property
    def state(self) -> str:
        return self._state

    @property
    def ips(self) -> list[str]:
        """Addresses this reservation took."""
        return [self._alloc._ip_at(i) for i in self._ips] if self._alloc else []

    @property
    def ports(self) -> list[int]:
        """Node ports this reservation took."""
        return [self._alloc._port_at(i) for i in self._ports] if self._alloc else []

    @property
    def released_ips(self) -> list[str]:
        """Addresses freed on commit."""
        return [self._alloc._ip_at(i) for i in self._free_ips] if self._alloc else []

    @property
    def released_ports(self) -> list[int]:
        """Node ports freed on commit."""
        return [self._alloc._port_at(i) for i in self._free_ports] if self._alloc else []

    def commit(self, revision: int) -> None:
        """The write succeeded; ``revision`` is the one it was stored at (``kv.mod_revision``).

        A rebuild from a snapshot older than ``revision`` keeps this change; passing a revision
        that is too low could let such a rebuild free a value that is stored.
        """
        if self._state == "released":
            raise RuntimeError("commit of a released reservation")
        if self._state == "pending":
            self._state = "committed"
            if self._alloc is not None:
                self._alloc._committed(self, revision)

    def release(self) -> None:
        """The write failed or will not happen: give back what was taken."""
        if self._state == "pending":
            self._state = "released"
            if self._alloc is not None:
                self._alloc._rolled_back(self)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class _Op:
    """One allocation pass over a Service: takes values into a reservation (or pretends to)."""

    def __init__(self, alloc: ServiceAllocator, name: str, dry_run: bool) -> None:
        self.alloc, self.name, self.dry_run = alloc, name, dry_run
        self.res = Reservation(None if dry_run else alloc)
        self.dry_ports: list[int] = []

    def invalid(self, path: str, value: object, detail: str) -> errors.StatusError:
        return errors.new_invalid("Service", self.name, [errors.invalid(path, value, detail)])

    def ip(self, requested: str, shown: list[str]) -> str:
        alloc = self.alloc
        if not requested:
            if self.dry_run:  # upstream's dry run answers the network address
                return str(alloc.network.network_address)
            i = alloc._ips.next(alloc._rng)
            if i is None:
                raise errors.new_internal_error(f"failed to allocate a serviceIP: {_FULL}")
            self.res._ips.append(i)
            return alloc._ip_at(i)
        address = parse_ip(requested)
        i = None if address is None else alloc._ip_index(address)
        if i is None:
            shown_ip = "<nil>" if address is None else address  # Go prints a nil IP so
            detail = (
                f"the provided IP ({shown_ip}) is not in the valid range. "
                f"The range of valid IPs is {alloc.network}"
            )
        elif self.dry_run or alloc._ips.take(i):
            if not self.dry_run:
                self.res._ips.append(i)
            return requested
        else:
            detail = _IP_TAKEN
        raise self.invalid("spec.clusterIPs", shown, f"failed to allocate IP {requested}: {detail}")

    def take_port(self, port: int) -> str:
        """Take a requested port; an error detail ("" when taken)."""
        alloc = self.alloc
        i = alloc._port_index(port)
        if self.dry_run:  # upstream's dry run checks only what is taken, not the range
            if (i is not None and alloc._ports.has(i)) or port in self.dry_ports:
                return _PORT_TAKEN
            self.dry_ports.append(port)
            return ""
        if i is None:
            return (
                "provided port is not in the valid range. "
                f"The range of valid ports is {alloc.port_range}"
            )
        if not alloc._ports.take(i):
            return _PORT_TAKEN
        self.res._ports.append(i)
        return ""

    def next_port(self) -> int | None:
        if self.dry_run:  # upstream's dry run makes up ports above 32768
            port = max(self.dry_ports, default=32768) + 1
            self.dry_ports.append(port)
            return port
        i = self.alloc._ports.next(self.alloc._rng)
        if i is None:
            return None
        self.res._ports.append(i)
        return self.alloc._port_at(i)

    def node_port(self, port: int, index: int) -> None:
        if detail := self.take_port(port):
            raise self.invalid(f"spec.ports[{index}].nodePort", port, detail)

    def free_ip_later(self, address: str) -> None:
        parsed = parse_ip(address)
        i = None if parsed is None else self.alloc._ip_index(parsed)
        if i is not None and not self.dry_run:
            self.res._free_ips.append(i)

    def free_port_later(self, port: int) -> None:
        i = self.alloc._port_index(port)
        if i is not None and not self.dry_run:
            self.res._free_ports.append(i)


# --------------------------------------------------------------------------------------------
# The allocator.


class ServiceAllocator:
    """Cluster IPs from one service CIDR and node ports from one range, for one API server."""

    def __init__(
        self,
        service_cidr: str = DEFAULT_SERVICE_CIDR,
        node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.network = ipaddress.ip_network(service_cidr, strict=False)
        self.family = "IPv6" if self.network.version == 6 else "IPv4"
        total = self.network.num_addresses
        # Index 0 is the address after the network address; IPv4 also loses its broadcast.
        size = total - 2 if self.network.version == 4 else min(total, 65536) - 1
        self._ip_base = int(self.network.network_address) + 1
        self._ips = _Bitmap(max(size, 0), _range_offset(total, 16, 256, 16), first_dynamic=1)
        low, high = node_port_range
        if not 0 < low <= high <= 65535:
            raise ValueError(f"invalid node port range {low}-{high}")
        self.port_range = f"{low}-{high}"
        self._port_base = low
        self._ports = _Bitmap(high - low + 1, _range_offset(high - low + 1, 16, 128, 32))
        self._rng = rng if rng is not None else random.Random()
        self._pending: set[Reservation] = set()
        # (revision, taken, is_ip, index) of committed changes, oldest first.
        self._journal: deque[tuple[int, bool, bool, int]] = deque(maxlen=_JOURNAL_LIMIT)

    # ----- addresses and ports ------------------------------------------------------------

    @property
    def kubernetes_service_ip(self) -> str:
        """The first address: the ``kubernetes`` Service's, never handed out dynamically."""
        return self._ip_at(0)

    def _ip_index(self, address: IPAddress) -> int | None:
        if address.version != self.network.version:
            return None
        i = int(address) - self._ip_base
        return i if 0 <= i < self._ips.size else None

    def _ip_at(self, i: int) -> str:
        return str(self.network.network_address + (i + 1))

    def _port_index(self, port: int) -> int | None:
        i = port - self._port_base
        return i if 0 <= i < self._ports.size else None

    def _port_at(self, i: int) -> int:
        return self._port_base + i

    def ip_allocated(self, address: str) -> bool:
        parsed = parse_ip(address)
        i = None if parsed is None else self._ip_index(parsed)
        return i is not None and self._ips.has(i)

    def port_allocated(self, port: int) -> bool:
        i = self._port_index(port)
        return i is not None and self._ports.has(i)

    @property
    def free_ips(self) -> int:
        return self._ips.size - self._ips.count

    @property
    def free_ports(self) -> int:
        return self._ports.size - self._ports.count

    # ----- create -------------------------------------------------------------------------

    def allocate_for_create(self, service: dict[str, Any], *, dry_run: bool = False) -> Reservation:
        """Fill in a new Service's IP families, cluster IPs and node ports (``beginCreate``).

        Raises the ``StatusError`` upstream answers (422 Invalid for a requested value that is
        taken or out of range, 500 when a range is full); nothing stays taken then.
        """
        normalize_cluster_ips(service)
        spec = service.setdefault("spec", {})
        op = _Op(self, str((service.get("metadata") or {}).get("name", "")), dry_run)
        try:
            self._init_ip_families(op, spec, None)
            self._alloc_cluster_ips(op, spec)
            if _needs_node_port(spec):
                self._init_node_ports(op, spec)
            if _needs_health_check(spec):
                self._alloc_health_check(op, spec)
        except BaseException:
            op.res.release()
            raise
        return op.res

    def _init_ip_families(
        self, op: _Op, spec: dict[str, Any], old: Mapping[str, Any] | None
    ) -> None:
        """``initIPFamilyFields`` for a single-stack cluster: default and check the families."""
        if not _needs_cluster_ip(spec) or self._prefer_dual_stack_unchanged(spec, old):
            return
        if spec.get("ipFamilyPolicy") is None:
            if old is not None and old.get("ipFamilyPolicy") is not None:
                spec["ipFamilyPolicy"] = old["ipFamilyPolicy"]
            elif spec.get("clusterIP") == "None" and not spec.get("selector"):
                spec["ipFamilyPolicy"] = "RequireDualStack"
            else:
                spec["ipFamilyPolicy"] = "SingleStack"
        if errs := validate_cluster_ip_fields(spec):
            raise errors.new_invalid("Service", op.name, errs)
        policy, path = spec["ipFamilyPolicy"], "spec.ipFamilyPolicy"
        ips, families = _strs(spec.get("clusterIPs")), _strs(spec.get("ipFamilies"))
        errs = []
        if old is not None:
            old_ips, old_families = _strs(old.get("clusterIPs")), _strs(old.get("ipFamilies"))
            if policy == "SingleStack":
                if ips == old_ips and len(ips) > 1:
                    spec["clusterIPs"] = ips = ips[:1]
                if families == old_families and len(families) > 1:
                    spec["ipFamilies"] = families = families[:1]
            else:
                if ips and len(ips) < len(old_ips):
                    detail = "must be 'SingleStack' to release the secondary cluster IP"
                    errs.append(errors.invalid(path, policy, detail))
                if families and len(families) < len(old_families):
                    detail = "must be 'SingleStack' to release the secondary IP family"
                    errs.append(errors.invalid(path, policy, detail))
        if policy == "SingleStack":
            many = "must be 'RequireDualStack' or 'PreferDualStack' when multiple"
            if len(ips) == 2:
                errs.append(errors.invalid(path, policy, f"{many} cluster IPs are specified"))
            if len(families) == 2:
                errs.append(errors.invalid(path, policy, f"{many} IP families are specified"))
        for i, address in enumerate(ips):
            if address == "None":
                break
            if i >= len(families):
                family = _family_of(address)
                if family != self.family:
                    detail = f"{family} is not configured on this cluster"
                    errs.append(errors.invalid(f"spec.clusterIPs[{i}]", ips, detail))
                else:
                    families.append(family)
        spec["ipFamilies"] = families
        if errs:
            raise errors.new_invalid("Service", op.name, errs)
        if spec.get("clusterIP") == "None" and not spec.get("selector"):
            # Headless and selectorless: may name families this cluster does not have.
            if not families:
                families.append(self.family)
            if len(families) < 2 and policy != "SingleStack":
                families.append("IPv6" if families[0] == "IPv4" else "IPv4")
            return
        if policy == "RequireDualStack":
            detail = "this cluster is not configured for dual-stack services"
            errs.append(errors.invalid(path, policy, detail))
        for i, family in enumerate(families):
            if family != self.family:
                detail = "not configured on this cluster"
                errs.append(errors.invalid(f"spec.ipFamilies[{i}]", family, detail))
        if errs:
            raise errors.new_invalid("Service", op.name, errs)
        if not families:
            families.append(self.family)

    @staticmethod
    def _prefer_dual_stack_unchanged(
        spec: Mapping[str, Any], old: Mapping[str, Any] | None
    ) -> bool:
        """``isMatchingPreferDualStackClusterIPFields``: leave such an update alone."""
        return (
            old is not None
            and spec.get("type") == old.get("type")
            and spec.get("type") in ("ClusterIP", *_NODE_PORT_TYPES)
            and spec.get("ipFamilyPolicy") == "PreferDualStack"
            and old.get("ipFamilyPolicy") in (None, "PreferDualStack")
            and _strs(spec.get("clusterIPs")) == _strs(old.get("clusterIPs"))
            and _strs(spec.get("ipFamilies")) == _strs(old.get("ipFamilies"))
        )

    def _alloc_cluster_ips(self, op: _Op, spec: dict[str, Any]) -> None:
        """``allocClusterIPs``: one address per family of this cluster, requested or dynamic."""
        if not _needs_cluster_ip(spec) or _headless(spec):
            return
        ips = _strs(spec.get("clusterIPs"))
        families = _strs(spec.get("ipFamilies"))
        ips += [""] * (len(families) - len(ips))
        for i, family in enumerate(families):
            if family == self.family:
                ips[i] = op.ip(ips[i], ips)
        if ips:
            spec["clusterIPs"] = ips
            spec["clusterIP"] = ips[0]

    def _init_node_ports(self, op: _Op, spec: dict[str, Any]) -> None:
        """``initNodePorts``: ports sharing a port number (TCP and UDP) share a node port."""
        ports = _ports(spec)
        by_number: dict[int, int] = {}
        for i, port in enumerate(ports):
            node_port = _int(port.get("nodePort"))
            if not node_port and not _allocates_node_ports(spec):
                continue  # no new ports, but requested ones are honoured
            number = _int(port.get("port"))
            shared = by_number.get(number, 0)
            if not shared:
                requested = [
                    _int(p.get("nodePort")) for p in ports if _int(p.get("port")) == number
                ]
                wanted = next((n for n in requested if n), 0)
                if wanted:
                    op.node_port(wanted, i)
                else:
                    wanted = op.next_port() or 0
                    if not wanted:
                        raise errors.new_internal_error(f"failed to allocate a nodePort: {_FULL}")
                port["nodePort"] = by_number[number] = wanted
            elif node_port != shared:
                if node_port:
                    op.node_port(node_port, i)
                else:
                    port["nodePort"] = shared

    def _alloc_health_check(self, op: _Op, spec: dict[str, Any]) -> None:
        requested = _int(spec.get("healthCheckNodePort"))
        if requested:
            if detail := op.take_port(requested):
                raise errors.new_internal_error(
                    f"failed to allocate requested HealthCheck NodePort {requested}: {detail}"
                )
            return
        port = op.next_port()
        if port is None:
            raise errors.new_internal_error(f"failed to allocate a HealthCheck NodePort 0: {_FULL}")
        spec["healthCheckNodePort"] = port

    # ----- update -------------------------------------------------------------------------

    def reconcile_update(
        self, old: Mapping[str, Any], new: dict[str, Any], *, dry_run: bool = False
    ) -> Reservation:
        """Carry allocated values over and allocate or give up what a change needs
        (``beginUpdate``: ``patchAllocatedValues``, ``normalizeClusterIPs``,
        ``allocateUpdate``). ``old`` is the stored object and is never modified.

        Values the new spec no longer holds are freed only on ``commit()``.
        """
        old_spec = _spec(old)
        spec = new.setdefault("spec", {})
        _patch_allocated_values(spec, old_spec)
        normalize_cluster_ips(new, {"spec": dict(old_spec)})
        op = _Op(self, str((new.get("metadata") or {}).get("name", "")), dry_run)
        try:
            self._init_ip_families(op, spec, old_spec)
            self._update_cluster_ips(op, spec, old_spec)
            self._update_node_ports(op, spec, old_spec)
            needed, needs = _needs_health_check(old_spec), _needs_health_check(spec)
            if needs and not needed:
                self._alloc_health_check(op, spec)
            elif needed and not needs:
                op.free_port_later(_int(old_spec.get("healthCheckNodePort")))
        except BaseException:
            op.res.release()
            raise
        return op.res

    def _update_cluster_ips(self, op: _Op, spec: dict[str, Any], old: Mapping[str, Any]) -> None:
        """``updateClusterIPs`` (type changes to and from ExternalName; dual-stack downgrade)."""
        if self._prefer_dual_stack_unchanged(spec, old):
            return
        old_ips = _strs(old.get("clusterIPs"))
        if not _needs_cluster_ip(old) and _needs_cluster_ip(spec):
            self._alloc_cluster_ips(op, spec)
            return
        if old_ips[:1] == ["None"]:
            return
        if _needs_cluster_ip(old) and not _needs_cluster_ip(spec):
            for address in old_ips:
                op.free_ip_later(address)
            return
        if not old_ips and _needs_cluster_ip(spec):
            # Deliberately beyond upstream: a Service stored before allocation was wired in
            # gets its address (requested or not) on its next update.
            self._alloc_cluster_ips(op, spec)
            return
        old_families, families = _strs(old.get("ipFamilies")), _strs(spec.get("ipFamilies"))
        if len(old_families) == 2 and len(families) == 1 and len(old_ips) == 2:
            op.free_ip_later(old_ips[1])

    def _update_node_ports(self, op: _Op, spec: dict[str, Any], old: Mapping[str, Any]) -> None:
        """``txnUpdateNodePorts`` and ``updateNodePorts``."""
        old_numbers = _node_ports(old)
        if _needs_node_port(old) and spec.get("type") in ("ClusterIP", "ExternalName"):
            for number in old_numbers:
                op.free_port_later(number)
        if not _needs_node_port(spec):
            return
        taken: set[int] = set()
        seen: list[tuple[str, int]] = []
        for i, port in enumerate(_ports(spec)):
            node_port = _int(port.get("nodePort"))
            if not node_port and not _allocates_node_ports(spec):
                continue
            if node_port:
                if node_port not in old_numbers and node_port not in taken:
                    op.node_port(node_port, i)
                    taken.add(node_port)
            else:
                node_port = op.next_port() or 0
                if not node_port:
                    raise errors.new_internal_error(f"failed to allocate a nodePort: {_FULL}")
                port["nodePort"] = node_port
            entry = (str(port.get("protocol", "")), node_port)
            if entry in seen:
                raise errors.new_internal_error(f"duplicate nodePort: {{{entry[0]} {entry[1]}}}")
            seen.append(entry)
        kept = _node_ports(spec)
        for number in old_numbers:
            if number not in kept:
                op.free_port_later(number)

    # ----- delete, rebuild, repair ----------------------------------------------------------

    def release_for_delete(self, service: Mapping[str, Any], *, revision: int = 0) -> None:
        """Free what a Service held once it is gone from storage (``releaseAllocatedResources``).

        ``revision`` is the deletion's; a rebuild from an older snapshot keeps the values free.
        Without it such a rebuild holds them again until the next one (a leak, never a clash).
        """
        ips, ports = self._held(service)
        for i in ips:
            self._ips.free(i)
            self._journal.append((revision, False, True, i))
        for i in ports:
            self._ports.free(i)
            self._journal.append((revision, False, False, i))

    def rebuild(
        self, services: Iterable[Mapping[str, Any]], *, revision: int | None = None
    ) -> None:
        """Make the bitmaps what ``services`` (every stored Service) hold, plus what pending
        reservations took. ``revision`` is the snapshot's: changes committed after it are kept.
        Without it the snapshot is taken as current (at start, before serving)."""
        self._ips.clear()
        self._ports.clear()
        for service in services:
            ips, ports = self._held(service)
            for i in ips:
                self._ips.take(i)
            for i in ports:
                self._ports.take(i)
        if revision is None:
            self._journal.clear()
        else:
            kept = (c for c in self._journal if c[0] > revision)
            self._journal = deque(kept, maxlen=_JOURNAL_LIMIT)
        for _, taken, is_ip, i in self._journal:
            bitmap = self._ips if is_ip else self._ports
            if taken:
                bitmap.take(i)
            else:
                bitmap.free(i)
        for res in self._pending:
            for i in res._ips:
                self._ips.take(i)
            for i in res._ports:
                self._ports.take(i)

    def _held(self, service: Mapping[str, Any]) -> tuple[list[int], list[int]]:
        """Indices of the addresses and ports a stored Service holds (in range, valid ones)."""
        spec = _spec(service)
        ips = []
        for address in _cluster_ip_list(spec):
            parsed = parse_ip(address)
            i = None if parsed is None else self._ip_index(parsed)
            if i is not None:
                ips.append(i)
        numbers = dict.fromkeys([*_node_ports(spec), _int(spec.get("healthCheckNodePort"))])
        ports = [i for n in numbers if n and (i := self._port_index(n)) is not None]
        return ips, ports

    def find_conflicts(self, services: Iterable[Mapping[str, Any]]) -> list[str]:
        """What upstream's repair loops report: addresses or ports held by several Services
        (every holder after the first), invalid or out-of-range ones. Empty when consistent."""
        problems: list[str] = []
        ip_owner: set[int] = set()
        port_owner: set[int] = set()
        for service in services:
            key, spec = _key(service), _spec(service)
            for address in _cluster_ip_list(spec):
                what = f"the cluster IP {address} for service {key}"
                parsed = parse_ip(address)
                if parsed is None:
                    problems.append(f"{what} is not a valid IP; please recreate")
                    continue
                if self._ip_index(parsed) is None:
                    problems.append(
                        f"{what} is not within the service CIDR {self.network}; please recreate"
                    )
                elif int(parsed) in ip_owner:
                    problems.append(f"{what} was assigned to multiple services; please recreate")
                ip_owner.add(int(parsed))
            numbers = dict.fromkeys([*_node_ports(spec), _int(spec.get("healthCheckNodePort"))])
            for number in (n for n in numbers if n):
                what = f"the node port {number} for service {key}"
                if self._port_index(number) is None:
                    problems.append(
                        f"{what} is not within the port range {self.port_range}; please recreate"
                    )
                elif number in port_owner:
                    problems.append(f"{what} was assigned to multiple services; please recreate")
                port_owner.add(number)
        return problems

    # ----- reservation outcomes -------------------------------------------------------------

    def _committed(self, res: Reservation, revision: int) -> None:
        self._pending.discard(res)
        for i in res._ips:
            self._journal.append((revision, True, True, i))
        for i in res._ports:
            self._journal.append((revision, True, False, i))
        kept_ips, kept_ports = set(res._ips), set(res._ports)
        for i in res._free_ips:
            if i not in kept_ips:
                self._ips.free(i)
                self._journal.append((revision, False, True, i))
        for i in res._free_ports:
            if i not in kept_ports:
                self._ports.free(i)
                self._journal.append((revision, False, False, i))

    def _rolled_back(self, res: Reservation) -> None:
        self._pending.discard(res)
        for i in res._ips:
            self._ips.free(i)
        for i in res._ports:
            self._ports.free(i)


# --------------------------------------------------------------------------------------------
# Spec rules around allocation on update.


def _patch_allocated_values(spec: dict[str, Any], old: Mapping[str, Any]) -> None:
    """``patchAllocatedValues``: a client resubmitting its manifest keeps what was allocated."""
    if _needs_cluster_ip(old) and _needs_cluster_ip(spec):
        if not spec.get("clusterIP") and old.get("clusterIP"):
            spec["clusterIP"] = old["clusterIP"]
        if not _strs(spec.get("clusterIPs")) and _strs(old.get("clusterIPs")):
            spec["clusterIPs"] = list(_strs(old.get("clusterIPs")))
    if _needs_node_port(old) and _needs_node_port(spec):
        used = set(_node_ports(old)) & set(_node_ports(spec))
        by_name = {str(p.get("name", "")): _int(p.get("nodePort")) for p in _ports(old)}
        for port in _ports(spec):
            if not _int(port.get("nodePort")):
                value = by_name.get(str(port.get("name", "")), 0)
                if value and value not in used:
                    port["nodePort"] = value
    if _needs_health_check(old) and _needs_health_check(spec):
        old_health = _int(old.get("healthCheckNodePort"))
        if old_health and not _int(spec.get("healthCheckNodePort")):
            spec["healthCheckNodePort"] = old_health


def drop_type_dependent_fields(new: dict[str, Any], old: Mapping[str, Any]) -> None:
    """The Service strategy's ``dropTypeDependentFields`` (``PrepareForUpdate``, after the old
    status is copied in): wipe what the new type has no use for, unless the client changed it
    too (then validation reports it). The allocator frees the values on commit."""
    spec, old_spec = new.setdefault("spec", {}), _spec(old)
    if _needs_cluster_ip(old_spec) and not _needs_cluster_ip(spec):
        same_ips = spec.get("clusterIP", "") == old_spec.get("clusterIP", "") and _strs(
            spec.get("clusterIPs")
        ) == _strs(old_spec.get("clusterIPs"))
        if same_ips:
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if _strs(spec.get("ipFamilies")) == _strs(old_spec.get("ipFamilies")):
            spec.pop("ipFamilies", None)
        if spec.get("ipFamilyPolicy") == old_spec.get("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if (
        _needs_node_port(old_spec)
        and not _needs_node_port(spec)
        and set(_node_ports(spec)) <= set(_node_ports(old_spec))
    ):
        for port in _ports(spec):
            port.pop("nodePort", None)
    same_health = _int(spec.get("healthCheckNodePort")) == _int(old_spec.get("healthCheckNodePort"))
    if _needs_health_check(old_spec) and not _needs_health_check(spec) and same_health:
        spec.pop("healthCheckNodePort", None)
    if old_spec.get("type") == "LoadBalancer" and spec.get("type") != "LoadBalancer":
        for field in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if spec.get(field) == old_spec.get(field):
                spec.pop(field, None)
    if (
        _externally_accessible(old_spec)
        and not _externally_accessible(spec)
        and spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy")
    ):
        spec.pop("externalTrafficPolicy", None)
    if spec.get("type") != "LoadBalancer":
        status = new.get("status")
        if isinstance(status, dict):
            status["loadBalancer"] = {}
