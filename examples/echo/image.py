"""The echo example's image: busybox ``httpd`` answering every request with its pod and the request.

Built by the project from the host's ``busybox-static`` (no registry, no network): a first layer
with busybox and its applets, a second with the server's start script and one CGI script. Run it
as a script to build the image and load it into this machine's node (``kyb image import``)::

    .venv/bin/python examples/echo/image.py                # tag 1 (kybernetes.local/echo:1)
    .venv/bin/python examples/echo/image.py --tag 2        # a second version to roll out
    .venv/bin/python examples/echo/image.py --data-dir DIR # the node of ``kyb server --data-dir``

The server listens on 8080; ``/`` (and ``/cgi-bin/index.cgi/<anything>``) answers with one line:
``pod=<pod name> version=<VERSION env or the tag> request="<method> <uri>" host=<Host>
from=<client address>``. It exits on SIGTERM (PID 1 ignores signals it has no handler for, so a
plain ``httpd`` would wait out the whole grace period).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from kybernetes.testing.images import File, TestImage, busybox_image

REPOSITORY = "kybernetes.local/echo"

SERVER = """#!/bin/sh
# PID 1 ignores SIGTERM without a handler: exit on it, which ends httpd with the container.
trap 'exit 0' TERM
httpd -f -p 8080 -h /www &
wait
"""

CGI = """#!/bin/sh
body="pod=$(hostname) version=${VERSION:-%s} request=\\"$REQUEST_METHOD $REQUEST_URI\\" \
host=$HTTP_HOST from=$REMOTE_ADDR"
printf 'Content-Type: text/plain\\r\\nContent-Length: %%d\\r\\n\\r\\n%%s\\n' \
  "$((${#body} + 1))" "$body"
"""


def echo_image(tag: str = "1") -> TestImage:
    """The echo server image; ``tag`` is also the version it reports without ``VERSION``."""
    files = {
        "usr/local/bin/echo-server": File(SERVER.encode(), 0o755),
        "www/cgi-bin/index.cgi": File((CGI % tag).encode(), 0o755),
    }
    return busybox_image(files, cmd=("/usr/local/bin/echo-server",))


def build(tag: str, data_dir: Path | None) -> str:
    """Write the image as an OCI tarball and import it into the node's store; its name."""
    name = f"{REPOSITORY}:{tag}"
    with tempfile.TemporaryDirectory() as scratch:
        archive = echo_image(tag).write_oci(Path(scratch) / "echo.tar", name=name)
        command = [sys.executable, "-m", "kybernetes", "image", "import", str(archive)]
        if data_dir is not None:
            command += ["--data-dir", str(data_dir)]
        subprocess.run(command, check=True)
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default="1", help="image tag and default version (1)")
    parser.add_argument("--data-dir", type=Path, default=None, help="kyb server's --data-dir")
    args = parser.parse_args()
    print(f"imported {build(args.tag, args.data_dir)}")


if __name__ == "__main__":
    main()
