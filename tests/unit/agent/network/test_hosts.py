"""/etc/hosts composition: the kubelet's managed file, subdomains, host aliases, host network."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.agent.network.hosts import hostname_and_domain, pod_hosts_file

LOCAL = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def pod(name: str = "web-0", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "shop"}, "spec": spec}


def test_plain_pod() -> None:
    assert pod_hosts_file(pod(), ["10.42.0.5"], "cluster.local", "") == LOCAL + "10.42.0.5\tweb-0\n"


def test_hostname_and_subdomain_give_the_fqdn() -> None:
    spec = pod(hostname="db", subdomain="backend")
    text = pod_hosts_file(spec, ["10.42.0.5"], "cluster.local", "")
    assert text == LOCAL + "10.42.0.5\tdb.backend.shop.svc.cluster.local\tdb\n"


def test_host_aliases_follow_a_blank_line() -> None:
    aliases = [
        {"ip": "127.0.0.1", "hostnames": ["foo.local", "bar.local"]},
        {"ip": "10.1.2.3", "hostnames": ["foo.remote"]},
    ]
    text = pod_hosts_file(pod(hostAliases=aliases), ["10.42.0.5"], "cluster.local", "")
    assert text == LOCAL + (
        "10.42.0.5\tweb-0\n"
        "\n"
        "# Entries added by HostAliases.\n"
        "127.0.0.1\tfoo.local\tbar.local\n"
        "10.1.2.3\tfoo.remote\n"
    )


def test_host_network_pods_get_the_node_file() -> None:
    node = "127.0.0.1 localhost\n192.0.2.2 node-1\n"
    aliases = [{"ip": "10.1.2.3", "hostnames": ["x"]}]
    text = pod_hosts_file(pod(hostNetwork=True, hostAliases=aliases), [], "cluster.local", node)
    assert text == (
        "# Kubernetes-managed hosts file (host network).\n"
        + node
        + "\n# Entries added by HostAliases.\n10.1.2.3\tx\n"
    )


def test_long_names_are_cut_and_bad_labels_refused() -> None:
    name = "a" * 62 + "-b" + "c" * 10
    assert hostname_and_domain(pod(name), "cluster.local") == ("a" * 62, "")
    with pytest.raises(ValueError, match="Hostname"):
        hostname_and_domain(pod(hostname="Not_A_Label"), "cluster.local")
    with pytest.raises(ValueError, match="Subdomain"):
        hostname_and_domain(pod(subdomain="bad.label"), "cluster.local")
