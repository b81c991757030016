"""Admission webhooks as a kubectl user meets them: apply a configuration, get refused.

A real ``kyb server`` (its own, module-scoped), a real HTTPS webhook server on a thread of this
process with its own CA, and the real kubectl: the refusals read exactly as on a real cluster.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from kybernetes.testing.webhooks import (
    WebhookServer,
    deny,
    json_patch,
    threaded_webhook_server,
)
from tests.e2e.conftest import Cluster, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def webhooks_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("webhooks")
    home = base / "home"
    home.mkdir()
    running = start_server(base / "data", home)
    try:
        yield running
    finally:
        err = stop_server(running)
        assert "Traceback" not in err, err


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookServer]:
    handlers = {
        "/deny": deny("configmaps named forbidden-* are not allowed", code=403),
        "/label": json_patch(
            [{"op": "add", "path": "/metadata/labels", "value": {"injected-by": "webhook"}}]
        ),
    }
    with threaded_webhook_server(tmp_path_factory.mktemp("webhook-pki"), handlers) as server:
        yield server


def configuration(
    kind: str, name: str, server: WebhookServer, path: str, side_effects: str = "None"
) -> str:
    """One webhook for creates of configmaps labelled ``<name>: "on"``."""
    return textwrap.dedent(
        f"""\
        apiVersion: admissionregistration.k8s.io/v1
        kind: {kind}
        metadata:
          name: {name}
        webhooks:
        - name: {name}.example.com
          clientConfig:
            url: {server.url(path)}
            caBundle: {server.ca_bundle}
          rules:
          - operations: ["CREATE"]
            apiGroups: [""]
            apiVersions: ["v1"]
            resources: ["configmaps"]
          objectSelector:
            matchLabels: {{{name}: "on"}}
          admissionReviewVersions: ["v1"]
          sideEffects: {side_effects}
        """
    )


def test_kubectl_create_denied_by_a_validating_webhook(
    webhooks_cluster: Cluster, hooks: WebhookServer, tmp_path: Path
) -> None:
    config = configuration("ValidatingWebhookConfiguration", "deny", hooks, "/deny")
    applied = webhooks_cluster.kubectl("apply", "-f", "-", input=config)
    assert applied.stdout.strip() == (
        "validatingwebhookconfiguration.admissionregistration.k8s.io/deny created"
    )
    stored = json.loads(
        webhooks_cluster.kubectl(
            "get", "validatingwebhookconfiguration", "deny", "-o", "json"
        ).stdout
    )
    hook = stored["webhooks"][0]
    assert (hook["failurePolicy"], hook["matchPolicy"], hook["timeoutSeconds"]) == (
        "Fail",
        "Equivalent",
        10,
    )
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: forbidden-2\n"
        "  labels: {deny: 'on'}\ndata: {a: b}\n"
    )
    refused = webhooks_cluster.kubectl("create", "-f", str(manifest), check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f'Error from server: error when creating "{manifest}": admission webhook '
        '"deny.example.com" denied the request: configmaps named forbidden-* are not allowed'
    )
    missing = webhooks_cluster.kubectl("get", "configmap", "forbidden-2", check=False)
    assert 'configmaps "forbidden-2" not found' in missing.stderr


def test_kubectl_apply_of_a_webhook_with_side_effects_is_invalid(
    webhooks_cluster: Cluster, hooks: WebhookServer
) -> None:
    manifest = configuration(
        "ValidatingWebhookConfiguration", "sidefx", hooks, "/deny", side_effects="Unknown"
    )
    refused = webhooks_cluster.kubectl("apply", "-f", "-", input=manifest, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'The ValidatingWebhookConfiguration "sidefx" is invalid: webhooks[0].sideEffects: '
        'Unsupported value: "Unknown": supported values: "None", "NoneOnDryRun"'
    )


def test_kubectl_server_dry_run_calls_side_effect_free_webhooks(
    webhooks_cluster: Cluster, hooks: WebhookServer, tmp_path: Path
) -> None:
    cm = tmp_path / "cm.yaml"
    cm.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tried\n"
        "  labels: {deny: 'on'}\ndata: {a: b}\n"
    )
    before = len(hooks.requests["/deny"])
    refused = webhooks_cluster.kubectl("create", "--dry-run=server", "-f", str(cm), check=False)
    assert refused.returncode == 1
    assert "denied the request: configmaps named forbidden-* are not allowed" in refused.stderr
    assert hooks.requests["/deny"][before]["dryRun"] is True


def test_kubectl_sees_what_a_mutating_webhook_added(
    webhooks_cluster: Cluster, hooks: WebhookServer, tmp_path: Path
) -> None:
    manifest = configuration("MutatingWebhookConfiguration", "label", hooks, "/label")
    webhooks_cluster.kubectl("apply", "-f", "-", input=manifest)
    cm = tmp_path / "cm.yaml"
    cm.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mutated\n"
        "  labels: {label: 'on'}\ndata: {a: b}\n"
    )
    webhooks_cluster.kubectl("create", "-f", str(cm))
    labels = webhooks_cluster.kubectl(
        "get", "configmap", "mutated", "-o", "jsonpath={.metadata.labels}"
    ).stdout
    assert json.loads(labels) == {"injected-by": "webhook"}
