"""The shim's streams with real containers: attach (stdin, stdinOnce, a terminal and its size,
detaching), log rotation by size, and the signal dispositions a container starts with.

Root is required; the harness and its check that nothing is left on the host are the runtime
contract suite's.
"""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kybernetes.agent.runtime.interface import ContainerState
from kybernetes.agent.runtime.runc import RuncRuntime
from kybernetes.agent.runtime.runc.attach import ShimAttach
from tests.contract.test_runtime import Harness, busybox_base, run, runc_harness, wait_exited

pytestmark = [pytest.mark.root, pytest.mark.timeout(60)]
__all__ = ["busybox_base"]  # the session fixture, shared with the contract suite


@pytest_asyncio.fixture
async def harness(tmp_path: Path, busybox_base: Path) -> AsyncIterator[Harness]:
    async for h in runc_harness(busybox_base, tmp_path):
        yield h


def runc(h: Harness) -> RuncRuntime:
    assert isinstance(h.runtime, RuncRuntime)
    return h.runtime


async def read_until(stream: asyncio.StreamReader, text: bytes, seconds: float = 10) -> bytes:
    seen = b""
    async with asyncio.timeout(seconds):
        while text not in seen:
            chunk = await stream.read(4096)
            assert chunk, f"the stream ended before {text!r}: {seen!r}"
            seen += chunk
    return seen


async def test_attach_stdin_once_ends_the_container_with_its_input(harness: Harness) -> None:
    _, cid, _ = await run(harness, "cat; echo cat-ended", stdin=True, stdin_once=True)
    attached = await runc(harness).attach_stream(cid, stdin=True, stderr=True)
    await attached.write(b"hello\n")
    assert await read_until(attached.stdout, b"hello\n") == b"hello\n"
    await attached.close_stdin()
    assert await read_until(attached.stdout, b"cat-ended\n") == b"cat-ended\n"
    assert await asyncio.wait_for(attached.wait(), 10) == 0
    status = await wait_exited(harness.runtime, cid)
    assert status.exit_code == 0
    assert b"stdout F hello" in Path(status.log_path).read_bytes()


async def test_detaching_keeps_the_container_and_its_stdin(harness: Harness) -> None:
    _, cid, _ = await run(harness, "exec cat", stdin=True)
    for word in (b"first\n", b"second\n"):
        attached = await runc(harness).attach_stream(cid, stdin=True, stderr=True)
        await attached.write(word)
        assert await read_until(attached.stdout, word) == word
        await attached.kill()  # detach (this client's input ends: no stdinOnce, stdin stays)
        await asyncio.sleep(0.2)
        status = await harness.runtime.container_status(cid)
        assert status.state is ContainerState.RUNNING


async def test_attach_to_a_terminal_with_resize(harness: Harness) -> None:
    _, cid, _ = await run(harness, "exec sh", stdin=True, tty=True)
    attached: ShimAttach = await runc(harness).attach_stream(cid, stdin=True, stderr=False)
    assert attached.stderr is None
    attached.resize(123, 45)
    await asyncio.sleep(0.1)
    await attached.write(b"stty size; echo $((40 + 2))-done\n")
    seen = await read_until(attached.stdout, b"42-done")
    assert b"45 123" in seen, seen
    assert b"\r\n" in seen  # a terminal's line discipline
    await attached.write(b"exit 5\n")
    assert await asyncio.wait_for(attached.wait(), 10) == 0
    status = await wait_exited(harness.runtime, cid)
    assert status.exit_code == 5


async def test_attach_sees_output_live_without_stdin(harness: Harness) -> None:
    _, cid, _ = await run(harness, "while true; do echo tick; echo tock >&2; sleep 0.1; done")
    attached = await runc(harness).attach_stream(cid, stdin=False, stderr=True)
    await read_until(attached.stdout, b"tick\n")
    assert attached.stderr is not None
    await read_until(attached.stderr, b"tock\n")
    await attached.kill()


async def test_attach_to_an_exited_container_fails(harness: Harness) -> None:
    _, cid, _ = await run(harness, "true")
    await wait_exited(harness.runtime, cid)
    with pytest.raises(Exception, match="not running"):
        await runc(harness).attach_stream(cid, stdin=False, stderr=True)


async def test_logs_are_rotated_by_size(harness: Harness) -> None:
    runtime = runc(harness)
    runtime.log_max_size, runtime.log_max_files = 4096, 3
    script = "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done; echo last; sleep 0.5"
    _, cid, _ = await run(harness, script)
    status = await wait_exited(harness.runtime, cid, 30)
    assert status.exit_code == 0
    current = Path(status.log_path)
    await asyncio.sleep(0.5)  # the compressor of the last rotation
    rotated = sorted(f for f in current.parent.iterdir() if f != current)
    names = [f.name for f in rotated]
    assert 1 <= len(rotated) <= 2, names  # with the current file, at most 3
    for name in names:
        assert re.fullmatch(r"0\.log\.\d{8}-\d{6}(\.gz)?", name), name
    # the newest rotated file is plain, older ones are compressed
    assert [n.endswith(".gz") for n in names] == [True] * (len(names) - 1) + [False]
    texts = [
        gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes() for f in rotated
    ]
    texts.append(current.read_bytes())
    record = max(len(line) + 1 for text in texts for line in text.splitlines())
    for text in texts:
        assert len(text) <= 4096, len(text)
    words = [line.split(b" ", 3)[3] for text in texts for line in text.splitlines()]
    assert words[-1] == b"last"
    numbers = [int(w.split(b"-")[1]) for w in words[:-1]]
    assert numbers == list(range(numbers[0], 3000)), "the kept lines are the latest, in order"
    for text in texts[:-1]:  # rotated files were filled, not cut early
        assert len(text) > 4096 - record, len(text)
    await runtime.remove_container(cid)  # its logs go with it, rotated ones too
    assert not current.parent.exists()


async def test_containers_start_with_default_signal_dispositions(harness: Harness) -> None:
    _, cid, _ = await run(harness, "grep SigIgn /proc/self/status")
    status = await wait_exited(harness.runtime, cid)
    line = Path(status.log_path).read_text().split(" ", 3)[3]
    ignored = int(line.split()[1], 16)
    assert not ignored & (1 << (13 - 1)), f"SIGPIPE is ignored: {line}"
