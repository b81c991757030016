"""``NodeArrays``: the snapshot's per-node numbers as numpy columns, for the vectorised cycle.

A scheduling cycle filters and scores hundreds of nodes; in CPython a per-node loop costs about
a microsecond per node per plugin. The default plugins only compare and combine a few integers
per node, so they can run as a handful of numpy operations over the whole batch instead: the
kernels at the end of this module (Filter and Score of the default plugins, per-domain flags
and scores for topology spreading and inter-pod affinity) compute exactly what the plugins'
per-node loops compute.

Invariants: row ``i`` of ``table`` describes ``snapshot.node_info_list[i]`` and ``position``
maps each node name to its row. The cache rewrites only the rows of the NodeInfos it copied into
the snapshot (``update``), and everything (``rebuild``) when the node list itself changed.
``DomainTable``s (a node's topology domain per label key, as small integers) are memoised until
a node's labels change or the order does. numpy is optional: without it ``AVAILABLE`` is False
and the scheduler runs the per-node path only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from kybernetes.scheduler.framework.node_info import NodeInfo

try:
    import numpy as np
except ImportError:  # pragma: no cover - the per-node path stands in
    AVAILABLE = False
else:
    AVAILABLE = True

if TYPE_CHECKING:
    import numpy.typing as npt

    IntArray = npt.NDArray[np.int64]
    BoolArray = npt.NDArray[np.bool_]
else:
    IntArray = Any
    BoolArray = Any

__all__ = [
    "ALLOC_CPU",
    "ALLOC_MEMORY",
    "AVAILABLE",
    "FLAGS",
    "FLAG_HARD_TAINTS",
    "FLAG_IMAGES",
    "FLAG_PREFER_TAINTS",
    "FLAG_UNSCHEDULABLE",
    "FREE_CPU",
    "FREE_MEMORY",
    "FREE_PODS",
    "NON_ZERO_CPU",
    "NON_ZERO_MEMORY",
    "REQUESTED_CPU",
    "REQUESTED_MEMORY",
    "Batch",
    "BoolArray",
    "DomainTable",
    "IntArray",
    "NodeArrays",
]

# Column numbers of ``NodeArrays.table``.
ALLOC_CPU = 0
ALLOC_MEMORY = 1
FREE_CPU = 2
FREE_MEMORY = 3
FREE_PODS = 4
NON_ZERO_CPU = 5
NON_ZERO_MEMORY = 6
REQUESTED_CPU = 7
REQUESTED_MEMORY = 8
FLAGS = 9
_COLUMNS = 10

FLAG_UNSCHEDULABLE = 1
FLAG_HARD_TAINTS = 2
FLAG_PREFER_TAINTS = 4
FLAG_IMAGES = 8


def _row(node: NodeInfo) -> tuple[int, ...]:
    flags = (
        (FLAG_UNSCHEDULABLE if node.unschedulable else 0)
        | (FLAG_HARD_TAINTS if node.hard_taints else 0)
        | (FLAG_PREFER_TAINTS if node.prefer_taints else 0)
        | (FLAG_IMAGES if node.image_states else 0)
    )
    return (
        node.allocatable_cpu,
        node.allocatable_memory,
        node.free_cpu,
        node.free_memory,
        node.free_pods,
        node.non_zero_cpu,
        node.non_zero_memory,
        node.requested_cpu,
        node.requested_memory,
        flags,
    )


def ring_slice(ring: IntArray | None, total: int, begin: int, size: int) -> IntArray:
    """``size`` positions from ``begin``, wrapping at ``total``; taken from ``ring`` when given
    (a subset of the snapshot's positions), else the positions themselves."""
    begin %= total
    if begin + size <= total:
        index = np.arange(begin, begin + size, dtype=np.int64)
    else:
        index = np.arange(begin, begin + size, dtype=np.int64) % total
    return index if ring is None else ring[index]


def flatnonzero(mask: BoolArray) -> IntArray:
    return np.flatnonzero(mask)


class DomainTable:
    """One label key over the snapshot's nodes: ``ids[i]`` is node ``i``'s value as an index
    into ``values`` (``index`` is the reverse map), or ``size`` when the node lacks the key."""

    __slots__ = ("ids", "index", "size")

    def __init__(self, key: str, nodes: Sequence[NodeInfo]) -> None:
        index: dict[str, int] = {}
        raw = [n.labels.get(key) for n in nodes]
        for value in raw:
            if value is not None and value not in index:
                index[value] = len(index)
        size = len(index)
        self.index = index
        self.size = size
        self.ids: IntArray = np.array(
            [size if v is None else index[v] for v in raw], dtype=np.int64
        )

    def lookup(self, values: Sequence[str]) -> list[int]:
        """Each value's index; ``size + 1`` (a slot no node uses) for values no node has."""
        spare = self.size + 1
        index = self.index
        return [index.get(v, spare) for v in values]


class NodeArrays:
    __slots__ = ("_domains", "nodes", "position", "table")

    def __init__(self) -> None:
        self.table: IntArray = np.zeros((0, _COLUMNS), dtype=np.int64)
        self.position: dict[str, int] = {}
        self.nodes: list[NodeInfo] = []
        self._domains: dict[str, DomainTable] = {}

    def rebuild(self, nodes: list[NodeInfo]) -> None:
        self.nodes = nodes
        self.position = {n.name: i for i, n in enumerate(nodes)}
        if nodes:
            self.table = np.array([_row(n) for n in nodes], dtype=np.int64)
        else:
            self.table = np.zeros((0, _COLUMNS), dtype=np.int64)
        self._domains.clear()

    def update(self, node: NodeInfo) -> None:
        """Rewrite ``node``'s row (its object is the one at its position)."""
        self.table[self.position[node.name]] = _row(node)

    def labels_changed(self) -> None:
        self._domains.clear()

    def domains(self, key: str) -> DomainTable:
        table = self._domains.get(key)
        if table is None:
            table = self._domains[key] = DomainTable(key, self.nodes)
        return table

    def positions_of(self, names: Iterable[str]) -> IntArray:
        position = self.position
        return np.array([position[n] for n in names], dtype=np.int64)

    def batch(self, positions: IntArray) -> Batch:
        return Batch(self, positions)


class Batch(Sequence[NodeInfo]):
    """Some of the snapshot's nodes (by position, in cycle order) and their rows; as a
    sequence, their NodeInfos (looked up only when a plugin walks them)."""

    __slots__ = ("_flags", "_nodes", "arrays", "positions", "rows")

    def __init__(
        self, arrays: NodeArrays, positions: IntArray, rows: IntArray | None = None
    ) -> None:
        self.arrays = arrays
        self.positions = positions
        self.rows: IntArray = arrays.table[positions] if rows is None else rows
        self._nodes: list[NodeInfo] | None = None
        self._flags: int | None = None

    def __len__(self) -> int:
        return len(self.positions)

    @overload
    def __getitem__(self, index: int) -> NodeInfo: ...

    @overload
    def __getitem__(self, index: slice) -> list[NodeInfo]: ...

    def __getitem__(self, index: int | slice) -> NodeInfo | list[NodeInfo]:
        return self.node_infos()[index]

    def __iter__(self) -> Iterator[NodeInfo]:
        return iter(self.node_infos())

    def any_flagged(self, flag: int) -> bool:
        """Whether some node of the batch has ``flag`` (one reduction per batch)."""
        if self._flags is None:
            self._flags = int(np.bitwise_or.reduce(self.rows[:, FLAGS])) if len(self) else 0
        return bool(self._flags & flag)

    def flagged(self, flag: int) -> BoolArray:
        flags: BoolArray = (self.rows[:, FLAGS] & flag) != 0
        return flags

    def node_infos(self) -> list[NodeInfo]:
        """The NodeInfos of the batch, in its order."""
        if self._nodes is None:
            nodes = self.arrays.nodes
            self._nodes = [nodes[i] for i in self.positions.tolist()]
        return self._nodes

    def node(self, j: int) -> NodeInfo:
        return self.arrays.nodes[int(self.positions[j])]

    def domain_ids(self, key: str) -> tuple[DomainTable, IntArray]:
        table = self.arrays.domains(key)
        return table, table.ids[self.positions]

    @staticmethod
    def join(parts: Sequence[Batch], limit: int) -> Batch:
        """The parts one after the other, cut to ``limit`` nodes."""
        if len(parts) == 1:
            whole = parts[0]
        else:
            whole = Batch(
                parts[0].arrays,
                np.concatenate([p.positions for p in parts]),
                np.concatenate([p.rows for p in parts]),
            )
        if len(whole) <= limit:
            return whole
        return Batch(whole.arrays, whole.positions[:limit], whole.rows[:limit])

    def mask_of(self, kept: set[int]) -> BoolArray:
        """True for the nodes whose ``id()`` is in ``kept``."""
        return np.array([id(n) in kept for n in self.node_infos()], dtype=np.bool_)

    def zeros(self) -> IntArray:
        return np.zeros(len(self.positions), dtype=np.int64)

    def int_array(self, values: Sequence[int]) -> IntArray:
        return np.array(values, dtype=np.int64)

    def select(self, mask: BoolArray) -> Batch:
        """The sub-batch where ``mask`` holds."""
        return Batch(self.arrays, self.positions[mask], self.rows[mask])


# -- kernels: the per-node arithmetic of the default plugins, over a batch ---------------------
# Each computes exactly what the plugin's per-node loop computes (the same integer divisions;
# the same float64 operations in the same order where the plugin uses floats).

_TOP = 100  # MAX_NODE_SCORE (interface.py imports this module, so it is not imported here)


def fits(batch: Batch, cpu: int, memory: int) -> BoolArray:
    """NodeResourcesFit's Filter for a pod asking only for cpu and memory."""
    mask: BoolArray = batch.rows[:, FREE_PODS] > 0
    if cpu > 0:
        mask &= batch.rows[:, FREE_CPU] >= cpu
    if memory > 0:
        mask &= batch.rows[:, FREE_MEMORY] >= memory
    return mask


def least_allocated(batch: Batch, cpu: int, memory: int) -> IntArray:
    """LeastAllocated over cpu and memory, weight 1 each, with the non-zero requests."""
    rows = batch.rows
    ac = rows[:, ALLOC_CPU]
    am = rows[:, ALLOC_MEMORY]
    rc = rows[:, NON_ZERO_CPU] + cpu
    rm = rows[:, NON_ZERO_MEMORY] + memory
    sc = np.where(rc > ac, 0, (ac - rc) * _TOP // np.maximum(ac, 1))
    sm = np.where(rm > am, 0, (am - rm) * _TOP // np.maximum(am, 1))
    has_cpu = ac != 0
    has_memory = am != 0
    if has_cpu.all() and has_memory.all():
        result: IntArray = (sc + sm) // 2
        return result
    return np.where(
        has_cpu & has_memory,
        (sc + sm) // 2,
        np.where(has_cpu, sc, np.where(has_memory, sm, 0)),
    )


def balanced_allocation(batch: Batch, cpu: int, memory: int) -> IntArray:
    """BalancedAllocation over cpu and memory with the exact requests."""
    rows = batch.rows
    ac = rows[:, ALLOC_CPU]
    am = rows[:, ALLOC_MEMORY]
    both = (ac != 0) & (am != 0)
    fc = np.minimum((rows[:, REQUESTED_CPU] + cpu) / np.maximum(ac, 1), 1.0)
    fm = np.minimum((rows[:, REQUESTED_MEMORY] + memory) / np.maximum(am, 1), 1.0)
    scores: IntArray = ((1 - np.abs(fc - fm) / 2) * _TOP).astype(np.int64)
    if both.all():
        return scores
    return np.where(both, scores, _TOP)


def domain_flags(
    table: DomainTable, default: bool, values: dict[str, bool], missing: bool = False
) -> BoolArray:
    """A flag per domain of ``table`` (``default`` unless ``values`` says otherwise), then
    ``missing`` for nodes without the key; index it with ``DomainTable.ids``."""
    flags = np.full(table.size + 2, default, dtype=np.bool_)
    if values:
        flags[table.lookup(list(values))] = list(values.values())
    flags[table.size] = missing
    return flags


def domain_scores(table: DomainTable, values: dict[str, int]) -> IntArray:
    """A score per domain of ``table`` (0 for the others and for nodes without the key)."""
    scores = np.zeros(table.size + 2, dtype=np.int64)
    if values:
        scores[table.lookup(list(values))] = list(values.values())
    scores[table.size] = 0
    scores[table.size + 1] = 0
    return scores


def min_max_normalize(scores: IntArray) -> IntArray:
    """InterPodAffinity's NormalizeScore: ``int(100 * ((s - low) / (high - low)))``."""
    low = int(scores.min())
    spread = int(scores.max()) - low
    if spread <= 0:
        return np.zeros(len(scores), dtype=np.int64)
    result: IntArray = (_TOP * ((scores - low) / spread)).astype(np.int64)
    return result
