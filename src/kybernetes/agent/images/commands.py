"""What ``kyb image import|ls|rm|prune`` do, as plain functions of the image data dir.

They work on the store directly (no agent, no API server), and are safe while an agent uses the
same store: changes go through the store's lock and atomic renames, which the agent notices.
Rows are shaped like ``crictl images``: IMAGE, TAG, IMAGE ID (13 hex digits), SIZE.

Invariant: these functions never mount or unmount anything and never remove a layer a mounted
overlay uses, so they cannot break a running container.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path

from kybernetes.agent.images.digest import hex_of
from kybernetes.agent.images.gc import GCPolicy, ImageGC
from kybernetes.agent.images.importer import import_archive
from kybernetes.agent.images.interface import ImageNotFound
from kybernetes.agent.images.reference import try_parse
from kybernetes.agent.images.store import Store

HEADER = ("IMAGE", "TAG", "IMAGE ID", "SIZE")
IMAGES_SUBDIR = "images"


def image_dir(agent_data_dir: str | os.PathLike[str]) -> Path:
    """Where the node's images live inside the agent's data dir."""
    return Path(agent_data_dir) / IMAGES_SUBDIR


def import_image(data_dir: str | os.PathLike[str], archive: str | os.PathLike[str]) -> list[str]:
    """Import an archive; one line per image (``name:tag id`` or the id alone)."""
    records = import_archive(Store(data_dir), Path(archive))
    return [f"{', '.join(r.repo_tags) or '<none>'} {r.id}" for r in records]


def list_rows(data_dir: str | os.PathLike[str]) -> list[tuple[str, str, str, str]]:
    """One row per tag (an untagged image gets one ``<none>`` row), sorted by image and tag."""
    rows: list[tuple[str, str, str, str]] = []
    for record in Store(data_dir).records().values():
        short = hex_of(record.id)[:13]
        size = human_size(record.size)
        names = [_split_tag(t) for t in record.repo_tags]
        if not names:
            digested = [d.split("@", 1)[0] for d in record.repo_digests]
            names = [(n, "<none>") for n in dict.fromkeys(digested)] or [("<none>", "<none>")]
        rows.extend((name, tag, short, size) for name, tag in names)
    return sorted(rows)


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    table = [tuple(header), *(tuple(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    return "\n".join(lines)


def remove_images(data_dir: str | os.PathLike[str], references: Sequence[str]) -> list[str]:
    """Remove images by tag, digest or (prefix of) id; ``Deleted: <id>`` lines.

    Raises :class:`ImageNotFound` naming the first reference that matches nothing (after
    removing the ones before it, as ``crictl rmi`` does).
    """
    store = Store(data_dir)
    out = []
    for reference in references:
        record = store.resolve(reference)
        if record is None:
            raise ImageNotFound(f"no such image: {reference}")
        store.remove(record.id)
        out.append(f"Deleted: {record.id}")
    return out


def prune(data_dir: str | os.PathLike[str], in_use: Collection[str] = ()) -> list[str]:
    """Remove every image not in ``in_use`` (ids); ``Deleted: <id>`` lines."""
    gc = ImageGC(Store(data_dir), lambda: in_use, GCPolicy(min_age_s=0.0))
    return [f"Deleted: {i}" for i in gc.prune().removed]


def human_size(size: int) -> str:
    """``crictl``'s sizes: 1.94MB, 512B (decimal units)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.3g}{unit}" if unit != "B" else f"{int(value)}B"
        value /= 1000
    return f"{size}B"


def _split_tag(tagged: str) -> tuple[str, str]:
    ref = try_parse(tagged)
    if ref is None:
        return tagged, "<none>"
    return ref.name, ref.tag or "<none>"
