"""Running ``nft``: a script goes in on stdin as one transaction (``nft -f -``).

nftables applies a whole ``-f`` script atomically: every command in it takes effect together or,
if one fails, none does, so a packet never meets half of a ruleset. The binary is found on
``PATH`` (Debian package ``nftables``).

Invariant: ``apply`` either returns with the whole script in force or raises ``NftError`` with
nothing changed.
"""

from __future__ import annotations

import asyncio
import shutil


class NftError(Exception):
    """nft refused the script or could not be run."""


def _binary() -> str:
    nft = shutil.which("nft")
    if nft is None:
        raise NftError("nft is not installed (Debian package nftables)")
    return nft


async def _run(*args: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        _binary(),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate(stdin)
    return process.returncode or 0, stdout, stderr


async def apply(script: str, *, check_only: bool = False) -> None:
    """Run ``script`` as one transaction (``check_only``: only parse and validate it)."""
    args = ("-c", "-f", "-") if check_only else ("-f", "-")
    code, _, stderr = await _run(*args, stdin=script.encode())
    if code != 0:
        raise NftError(f"nft -f failed: {stderr.decode(errors='replace').strip()}")


async def list_table(table: str) -> str | None:
    """``nft list table ip <table>``, or None when there is no such table."""
    code, stdout, _ = await _run("list", "table", "ip", table)
    return stdout.decode() if code == 0 else None
