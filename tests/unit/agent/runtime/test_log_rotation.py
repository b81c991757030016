"""The shim's log rotation (``shim.LogFile``) and a follower reading across it.

Upstream's policy: ``0.log`` renamed ``0.log.<YYYYMMDD-hhmmss>``, at most MaxFiles files with
the current one, the oldest removed first, every rotated file but the newest gzip-compressed.
Here rotation happens between two records, so no file is over the size by more than a record.
"""

from __future__ import annotations

import asyncio
import gzip
import re
from pathlib import Path

from kybernetes.agent.runtime.runc.shim import LogFile
from kybernetes.agent.server import logs

NAME = re.compile(r"0\.log\.\d{8}-\d{6}(\.gz)?")


def record(n: int, text: bytes = b"") -> bytes:
    return b"2026-01-02T03:04:05.000000000Z stdout F line-%d%s\n" % (n, text)


def rotated(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name != "0.log")


def contents(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def numbers(data: bytes) -> list[int]:
    return [int(re.findall(rb"line-(\d+)", line)[0]) for line in data.splitlines()]


def test_no_rotation_without_a_size(tmp_path: Path) -> None:
    log = LogFile(str(tmp_path / "0.log"))
    log.write([record(n) for n in range(1000)])
    log.close()
    assert [p.name for p in tmp_path.iterdir()] == ["0.log"]


def test_rotation_keeps_max_files_compresses_older_and_loses_nothing_recent(
    tmp_path: Path,
) -> None:
    log = LogFile(str(tmp_path / "0.log"), max_size=1000, max_files=4)
    for n in range(200):  # one write per record, and some batches
        log.write([record(n)] if n % 3 else [record(n), record(n + 1000)])
    log._wait_compressor()
    log.close()
    files = rotated(tmp_path)
    assert len(files) == 3  # and the current one: 4
    assert all(NAME.fullmatch(p.name) for p in files), files
    assert [p.suffix == ".gz" for p in files] == [True, True, False]
    seen = b"".join(contents(p) for p in [*files, tmp_path / "0.log"])
    for p in [*files, tmp_path / "0.log"]:
        assert len(contents(p)) <= 1000
    kept = numbers(seen)
    # the kept records are the latest ones, in the order written
    written = [m for n in range(200) for m in ([n] if n % 3 else [n, n + 1000])]
    assert kept == written[-len(kept) :]
    assert len(seen) > 3 * (1000 - len(record(1999)))  # files are filled, not cut early


def test_names_are_unique_within_one_second(tmp_path: Path) -> None:
    log = LogFile(str(tmp_path / "0.log"), max_size=len(record(0)), max_files=10)
    log.write([record(n) for n in range(6)])  # a file each: five rotations in a second
    log._wait_compressor()
    log.close()
    names = [p.name.removesuffix(".gz") for p in rotated(tmp_path)]
    assert len(names) == len(set(names)) == 5


def test_a_record_larger_than_the_size_gets_a_file_of_its_own(tmp_path: Path) -> None:
    log = LogFile(str(tmp_path / "0.log"), max_size=100, max_files=5)
    log.write([record(1), record(2, b"x" * 300), record(3)])
    log._wait_compressor()
    log.close()
    files = [*rotated(tmp_path), tmp_path / "0.log"]
    assert [numbers(contents(p)) for p in files] == [[1], [2], [3]]


def test_leftovers_of_an_interrupted_compression_are_removed(tmp_path: Path) -> None:
    old = tmp_path / "0.log.20260101-000000"
    old.write_bytes(record(1))
    (tmp_path / "0.log.20260101-000000.gz").write_bytes(gzip.compress(record(1)))
    (tmp_path / "0.log.20260101-000001.tmp").write_bytes(b"half")
    log = LogFile(str(tmp_path / "0.log"), max_size=50, max_files=5)
    log.write([record(2), record(3)])
    log._wait_compressor()
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "0.log.20260101-000000" not in names  # its .gz was complete
    assert not [n for n in names if n.endswith(".tmp")]
    assert "0.log.20260101-000000.gz" in names


async def test_following_across_rotations_sees_every_record(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    log = LogFile(str(path), max_size=2000, max_files=2)
    done = asyncio.Event()
    out = bytearray()

    async def write(data: bytes) -> None:
        out.extend(data)

    async def running() -> bool:
        return not done.is_set()

    follower = asyncio.ensure_future(
        logs.stream_log(str(path), logs.LogOptions(follow=True), write, running=running, poll=0)
    )
    for n in range(3000):
        log.write([record(n)])
        if n % 10 == 0:  # the follower keeps up: it is never a whole file behind
            await asyncio.sleep(0)
    log._wait_compressor()
    done.set()
    await asyncio.wait_for(follower, 10)
    log.close()
    assert numbers(bytes(out)) == list(range(3000))
    assert len(list(tmp_path.iterdir())) <= 2
