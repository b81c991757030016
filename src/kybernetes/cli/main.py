"""The ``kyb`` command: one entry point for every component and tool.

Subcommands parse their flags here and call into the component; ``asyncio.run`` is called only
at this edge. Errors a user can fix are printed as one line naming the problem (exit 1), never
as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from kybernetes import __version__
from kybernetes.agent.fake import FakeNodesConfig, run_fake_nodes
from kybernetes.agent.images.commands import (
    format_table,
    image_dir,
    import_image,
    list_rows,
    remove_images,
)
from kybernetes.agent.images.interface import ImageError
from kybernetes.agent.local import (
    NodeAgentConfig,
    NotRootError,
    joining_kubelet_tls,
)
from kybernetes.agent.node import KUBELET_PORT
from kybernetes.api.quantity import parse_quantity
from kybernetes.client.kubeconfig import KubeconfigError, default_kubeconfig_path, load_kubeconfig
from kybernetes.client.rest import Client
from kybernetes.controllers.manager import ControllerManager
from kybernetes.network.ingress import PROXY_CHOICES
from kybernetes.scheduler.app import run_scheduler
from kybernetes.scheduler.config import ConfigError, load_config
from kybernetes.server.allinone import AGENT_SUBDIR, ServerConfig, run_server
from kybernetes.server.node import run_node
from kybernetes.server.nodeservices import NodeServicesConfig
from kybernetes.storage.errors import StorageError
from kybernetes.util.metricsserver import MetricsServer, parse_bind_address
from kybernetes.util.pki import PKIError


def default_data_dir() -> Path:
    """``/var/lib/kybernetes`` for root, ``~/.local/share/kybernetes`` otherwise."""
    if os.geteuid() == 0:
        return Path("/var/lib/kybernetes")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kybernetes"


async def _until_signalled(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main``; SIGINT or SIGTERM cancels it, which is how components shut down."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def tune_gc_for_servers() -> None:
    """Make full garbage collections rare in long-running servers.

    A server keeps every object of the cluster in memory (the watch caches), and each full
    collection scans all of them: measured here, it put a 15 ms tail on writes at 200/s and
    doubled a LIST of 10,000 pods when it landed there. Objects are mostly acyclic dicts, so
    young collections stay frequent (cycles from tasks and tracebacks are still reclaimed)
    and only the full scans are spaced out. Start-up objects are frozen once serving starts.
    """
    gc.set_threshold(50_000, 20, 100)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions inside (possibly nested) exception groups."""
    out: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            out.extend(_leaves(exc))
        else:
            out.append(exc)
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kyb", description="Kybernetes: Kubernetes, rebuilt in Python."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("version", help="print the version")
    server = sub.add_parser("server", help="run the all-in-one cluster in the foreground")
    _server_flags(server)
    server.add_argument(
        "--no-kubeconfig-merge",
        action="store_true",
        help="do not add a kybernetes context to ~/.kube/config",
    )
    server.add_argument(
        "--runtime",
        choices=["runc", "none"],
        default=None,
        help="this machine as a node: runc (real containers; the default as root) or none",
    )
    server.add_argument(
        "--ingress-ports",
        default="80,443",
        metavar="HTTP,HTTPS",
        help="the ingress controller's ports on this node ('none': no ingress controller)",
    )
    server.add_argument(
        "--ingress-proxy",
        choices=PROXY_CHOICES,
        default="auto",
        help="the ingress data plane: nginx, the builtin asyncio proxy, or auto (nginx if found)",
    )
    # Test-only: name the node's bridge, nftables table and cgroups apart from a real node's.
    server.add_argument("--node-instance", default="", help=argparse.SUPPRESS)
    server.add_argument(
        "--fake-nodes",
        type=int,
        default=0,
        metavar="N",
        help="also run N simulated nodes (kwok-style: pods run without processes)",
    )
    _hpa_flags(server)
    # Test-only: how often nodes push usage (kubectl top, the HPA); metrics-server's 15 s.
    server.add_argument(
        "--node-stats-interval", type=_seconds, default=15.0, help=argparse.SUPPRESS
    )
    _container_log_flags(server)
    apiserver = sub.add_parser("apiserver", help="run the API server alone")
    _server_flags(apiserver)
    manager = sub.add_parser(
        "controller-manager", help="run the controllers alone against an API server"
    )
    _client_flags(manager)
    manager.add_argument(
        "--controllers",
        default="*",
        help="comma-separated controllers to run ('*': all of them)",
    )
    _hpa_flags(manager)
    _metrics_flags(manager, 10257)
    _leader_flags(manager)
    scheduler = sub.add_parser("scheduler", help="run the scheduler alone against an API server")
    _client_flags(scheduler)
    scheduler.add_argument(
        "--config", type=Path, default=None, help="a KubeSchedulerConfiguration file"
    )
    _metrics_flags(scheduler, 10259)
    _leader_flags(scheduler)
    agent = sub.add_parser("agent", help="run a node agent against an API server")
    _client_flags(agent)
    agent.add_argument(
        "--runtime",
        choices=["runc", "fake"],
        default="runc",
        help="runc: real containers (root); fake: simulated nodes, pods run without processes",
    )
    agent.add_argument("--node-name", default="", help="this node's name (runc; default: host)")
    agent.add_argument("--data-dir", type=Path, default=None, help="state directory (runc)")
    agent.add_argument(
        "--pod-cidr",
        default=None,
        help="this node's pod addresses (runc; default: the control plane assigns them)",
    )
    agent.add_argument(
        "--node-ip", default="", help="the node's InternalIP (runc; default: the host name's)"
    )
    agent.add_argument(
        "--kubelet-port", type=int, default=KUBELET_PORT, help="the agent's HTTPS port (runc)"
    )
    agent.add_argument("--node-instance", default="", help=argparse.SUPPRESS)
    agent.add_argument("--node-stats-interval", type=_seconds, default=15.0, help=argparse.SUPPRESS)
    _container_log_flags(agent)
    agent.add_argument("--nodes", type=int, default=1, help="simulated nodes to run (fake)")
    agent.add_argument(
        "--node-name-prefix", default="kyb-fake-node-", help="simulated node names (fake)"
    )
    image = sub.add_parser("image", help="manage the images of this machine's node")
    image_sub = image.add_subparsers(dest="image_command", required=True, metavar="ACTION")
    image_import = image_sub.add_parser(
        "import", help="load a docker-save or OCI-layout tarball (gzip or plain)"
    )
    image_import.add_argument("file", type=Path)
    image_sub.add_parser("ls", help="list images")
    image_rm = image_sub.add_parser("rm", help="remove images")
    image_rm.add_argument("references", nargs="+")
    for action in (image_import, image_sub.choices["ls"], image_rm):
        action.add_argument("--data-dir", type=Path, default=None, help="state directory")
    return parser


def _client_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig of the API server (default: $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument("--context", default=None, help="kubeconfig context to use")


def _seconds(text: str) -> float:
    """A duration flag: ``15``, ``15s`` or ``500ms``."""
    value = text.strip()
    try:
        if value.endswith("ms"):
            return float(value[:-2]) / 1000
        return float(value.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration such as 15s, got {text!r}") from None


def _hpa_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--horizontal-pod-autoscaler-sync-period",
        type=_seconds,
        default=None,
        metavar="DURATION",
        help="how often each HorizontalPodAutoscaler is reconciled (default 15s)",
    )


def _controller_options(args: argparse.Namespace) -> dict[str, Any]:
    period = args.horizontal_pod_autoscaler_sync_period
    return {} if period is None else {"horizontal_pod_autoscaler_sync_period": period}


def _log_size(text: str) -> int:
    """A size flag: ``10Mi``, ``512Ki``, ``4096``."""
    try:
        return parse_quantity(text).value()
    except (ValueError, ArithmeticError):
        raise argparse.ArgumentTypeError(f"expected a size such as 10Mi, got {text!r}") from None


def _log_files(text: str) -> int:
    if not text.isdigit() or int(text) < 2:
        raise argparse.ArgumentTypeError("must be at least 2 (the current file and one more)")
    return int(text)


def _container_log_flags(parser: argparse.ArgumentParser) -> None:
    # Test-only (the kubelet's containerLogMaxSize and containerLogMaxFiles; 10Mi and 5).
    parser.add_argument("--container-log-max-size", type=_log_size, help=argparse.SUPPRESS)
    parser.add_argument("--container-log-max-files", type=_log_files, help=argparse.SUPPRESS)


def _container_log_options(args: argparse.Namespace) -> dict[str, int]:
    options: dict[str, int] = {}
    if getattr(args, "container_log_max_size", None) is not None:
        options["container_log_max_size"] = args.container_log_max_size
    if getattr(args, "container_log_max_files", None) is not None:
        options["container_log_max_files"] = args.container_log_max_files
    return options


def _metrics_flags(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument(
        "--metrics-bind-address",
        default=f"127.0.0.1:{port}",
        metavar="HOST:PORT",
        help="serve /metrics and /healthz over HTTP here ('0': nowhere)",
    )


async def _with_metrics(args: argparse.Namespace, main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` with the component's metrics server, if it has one."""
    default_port = 10259 if args.command == "scheduler" else 10257
    server: MetricsServer | None = None
    try:
        bind = parse_bind_address(args.metrics_bind_address, default_port)
        if bind is not None:
            server = MetricsServer(*bind)
            await server.start()
    except OSError as exc:  # a second copy on this machine: it still runs, without metrics
        logging.getLogger("kyb").warning(
            "metrics not served address=%s error=%s", args.metrics_bind_address, exc
        )
        server = None
    except BaseException:
        main.close()
        raise
    try:
        await main
    finally:
        if server is not None:
            await server.close()


def _leader_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take a Lease before acting, so several copies can run with one active",
    )


def _server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help="state directory")
    parser.add_argument("--bind-address", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=6443, help="HTTPS port (0: any free port)")
    parser.add_argument("--storage", choices=["sqlite", "etcd"], default="sqlite")
    parser.add_argument(
        "--etcd-servers", default="", help="comma-separated etcd client URLs (--storage etcd)"
    )
    parser.add_argument(
        "--token-auth-file", type=Path, default=None, help="static bearer tokens (CSV)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if args.command == "version":
        print(f"kybernetes {__version__}")
        return 0
    if args.command in ("server", "apiserver"):
        tune_gc_for_servers()
        try:
            ingress_http, ingress_https = _ingress_ports(getattr(args, "ingress_ports", "80,443"))
        except ValueError as bad_ports:
            print(f"kyb {args.command}: {bad_ports}", file=sys.stderr)
            return 1
        config = ServerConfig(
            data_dir=args.data_dir or default_data_dir(),
            storage=args.storage,
            etcd_servers=[s for s in args.etcd_servers.split(",") if s],
            bind_address=args.bind_address,
            port=args.port,
            token_auth_file=args.token_auth_file,
            merge_kubeconfig=args.command == "server" and not args.no_kubeconfig_merge,
            controllers=args.command == "server",
            scheduler=args.command == "server",
            fake_nodes=args.fake_nodes if args.command == "server" else 0,
            node_agent=args.command == "server" and _wants_node_agent(args.runtime),
            node_instance=getattr(args, "node_instance", ""),
            ingress_http_port=ingress_http,
            ingress_https_port=ingress_https,
            ingress_proxy=getattr(args, "ingress_proxy", "auto"),
            node_stats_interval=getattr(args, "node_stats_interval", 15.0),
            node_log_options=_container_log_options(args),
            controller_options=_controller_options(args) if args.command == "server" else {},
        )
        failed = False
        try:
            asyncio.run(_until_signalled(run_server(config)))
        except* (OSError, ValueError, StorageError, KubeconfigError, PKIError) as group:
            for exc in _leaves(group):
                print(f"kyb {args.command}: {exc}", file=sys.stderr)
            failed = True
        return 1 if failed else 0
    if args.command == "image":
        return _image(args)
    if args.command == "controller-manager":
        return _run_client_component(args, _controller_manager(args))
    if args.command == "scheduler":
        return _run_client_component(args, _scheduler(args))
    if args.command == "agent":
        if args.nodes < 1:
            print("kyb agent: --nodes must be at least 1", file=sys.stderr)
            return 1
        return _run_client_component(args, _agent(args))
    return 2  # pragma: no cover - argparse rejects unknown commands


def _kubeconfig_client(args: argparse.Namespace, component: str) -> Client:
    path = args.kubeconfig or default_kubeconfig_path(os.environ.get("KUBECONFIG"))
    return Client.from_kubeconfig(path, args.context, user_agent=f"kyb/{component}")


async def _controller_manager(args: argparse.Namespace) -> None:
    names = None if args.controllers.strip() == "*" else args.controllers.split(",")
    path = args.kubeconfig or default_kubeconfig_path(os.environ.get("KUBECONFIG"))
    entry = load_kubeconfig(path, args.context)
    # Without --root-ca-file kube-controller-manager publishes its kubeconfig's CA to pods.
    options = {"root_ca": entry.certificate_authority or b"", **_controller_options(args)}
    async with Client.from_entry(entry, user_agent="kyb/controller-manager") as client:
        manager = ControllerManager(
            client,
            controllers=[n.strip() for n in names if n.strip()] if names is not None else None,
            leader_elect=args.leader_elect,
            options=options,
        )
        await _with_metrics(args, manager.run())


def _ingress_ports(text: str) -> tuple[int | None, int | None]:
    """``80,443`` -> (80, 443); ``none`` -> no ingress controller."""
    if text.strip() == "none":
        return None, None
    http, _, https = text.partition(",")
    try:
        return int(http), int(https or 443)
    except ValueError:
        raise ValueError(
            f"--ingress-ports: expected HTTP,HTTPS port numbers, got {text!r}"
        ) from None


def _wants_node_agent(runtime: str | None) -> bool:
    """``kyb server`` runs real containers by default as root, and says why not otherwise."""
    if runtime is None:
        if os.geteuid() == 0:
            return True
        print(
            "kyb server: not root, so this machine runs no pods (real containers need root); "
            "use --fake-nodes N for simulated nodes",
            file=sys.stderr,
        )
        return False
    return runtime == "runc"


def _image(args: argparse.Namespace) -> int:
    """``kyb image import|ls|rm``: the node's image store, safe while the agent runs."""
    store = image_dir((args.data_dir or default_data_dir()) / AGENT_SUBDIR)
    try:
        if args.image_command == "import":
            for line in import_image(store, args.file):
                print(f"imported {line}")
        elif args.image_command == "ls":
            print(format_table(list_rows(store)))
        else:
            for line in remove_images(store, args.references):
                print(line)
    except (ImageError, OSError, ValueError) as exc:
        print(f"kyb image {args.image_command}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _scheduler(args: argparse.Namespace) -> None:
    config = load_config(args.config) if args.config is not None else None
    async with _kubeconfig_client(args, "scheduler") as client:
        await _with_metrics(args, run_scheduler(client, config, leader_elect=args.leader_elect))


async def _agent(args: argparse.Namespace) -> None:
    path = args.kubeconfig or default_kubeconfig_path(os.environ.get("KUBECONFIG"))
    entry = load_kubeconfig(path, args.context)
    async with Client.from_entry(entry, user_agent="kyb/agent") as client:
        if args.runtime == "fake":
            config = FakeNodesConfig(
                args.nodes,
                name_prefix=args.node_name_prefix,
                stats_interval=args.node_stats_interval,
            )
            await run_fake_nodes(client, config)
            return
        data_dir = (args.data_dir or default_data_dir()) / AGENT_SUBDIR
        name = args.node_name or socket.gethostname().lower()
        options: dict[str, Any] = {
            "node_name": name,
            "node_ip": args.node_ip,
            "stats_interval": args.node_stats_interval,
            **_container_log_options(args),
            "kubelet_port": args.kubelet_port,
            "kubelet_tls": joining_kubelet_tls(entry.certificate_authority, name, args.node_ip),
        }
        # Without --pod-cidr the control plane's node IPAM controller assigns one.
        options["pod_cidr"] = args.pod_cidr or ""
        node = (
            NodeAgentConfig.for_instance(data_dir, args.node_instance, **options)
            if args.node_instance
            else NodeAgentConfig(data_dir, **options)
        )
        # The node's services: the server's node runs the cluster-wide ones (ServiceLB, and
        # the ingress controller on 80/443); a joining node runs its proxy, DNS and policy.
        services = NodeServicesConfig(
            node_name=name,
            pod_cidr=node.pod_cidr,
            instance=args.node_instance,
            ingress_http_port=None,
            ingress_https_port=None,
            servicelb=False,
        )
        await run_node(client, node, services)


def _run_client_component(args: argparse.Namespace, main: Coroutine[Any, Any, None]) -> int:
    """Run a component that only talks to an API server; user errors become one line."""
    tune_gc_for_servers()
    failed = False
    try:
        asyncio.run(_until_signalled(main))
    except* (OSError, ValueError, KubeconfigError, ConfigError, NotRootError) as group:
        for exc in _leaves(group):
            print(f"kyb {args.command}: {exc}", file=sys.stderr)
        failed = True
    return 1 if failed else 0
