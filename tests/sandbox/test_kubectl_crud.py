"""The real kubectl (1.32) against the sandbox apiserver: discovery, CRUD, apply, patches.

Covers what an operator does by hand next to Deckhand: `version`, `get ns`,
`create -f` (Deployment, ConfigMap, Secret), `get -o json`, `apply -f` twice
(the second is a no-op), `set image` (a strategic merge patch on the container
named `api`), `annotate`, `label`, `scale`, `get -l`, `get events
--field-selector`, `describe`, `delete`, and kubectl's error texts for a missing
object and an invalid Deployment. Rollout commands need the controllers and are
tested with them.

With DECKHAND_E2E_KUBECONFIG set, the same tests run against a real cluster in
namespaces of their own (the store checks are skipped there).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fixtures.cluster import real_cluster, run_kubectl

pytestmark = pytest.mark.kubectl

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {app: api}
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: registry.example/team/api:237c6b9
        ports:
        - containerPort: 8080
        env:
        - {name: MODE, value: production}
      - name: sidecar
        image: registry.example/team/proxy:1.0
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: api-config}
data: {LOG_LEVEL: info}
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: api-secret}
type: Opaque
data: {password: aHVudGVyMg==}
"""
MANIFESTS = "---\n".join([DEPLOYMENT, CONFIGMAP, SECRET])


@pytest.fixture
async def namespace(kubeconfig: Path) -> AsyncIterator[str]:
    """A namespace of the test's own, deleted afterwards (also on a real cluster)."""
    name = f"deckhand-crud-{uuid.uuid4().hex[:8]}"
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    await run_kubectl(kubeconfig, "create", "-f", "-", stdin=json.dumps(body), check=True)
    yield name
    await run_kubectl(kubeconfig, "delete", "namespace", name, "--wait=false")


async def kubectl_json(kubeconfig: Path, *args: str) -> dict:
    result = await run_kubectl(kubeconfig, *args, "-o", "json", check=True)
    return json.loads(result.stdout)


async def test_version_and_namespaces(kubeconfig: Path) -> None:
    version = await run_kubectl(kubeconfig, "version", "-o", "json", check=True)
    server = json.loads(version.stdout)["serverVersion"]
    assert server["major"] == "1"
    if real_cluster() is None:  # a real cluster may be a version kubectl warns about
        assert "WARNING" not in version.stderr
    listing = await run_kubectl(kubeconfig, "get", "ns", check=True)
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == ["default", "Active"] for line in lines[1:])
    assert listing.stderr == ""


async def test_create_get_apply_and_delete(
    kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFESTS)
    created = await run_kubectl(
        kubeconfig, "-n", namespace, "create", "-f", str(manifest), check=True
    )
    assert created.stdout.split("\n")[:3] == [
        "deployment.apps/api created",
        "configmap/api-config created",
        "secret/api-secret created",
    ]
    assert created.stderr == ""

    deployment = await kubectl_json(kubeconfig, "-n", namespace, "get", "deploy", "api")
    assert deployment["kind"] == "Deployment"
    assert deployment["metadata"]["generation"] == 1
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {
        "maxSurge": "25%",
        "maxUnavailable": "25%",
    }
    assert deployment["spec"]["revisionHistoryLimit"] == 10
    assert deployment["spec"]["progressDeadlineSeconds"] == 600
    assert deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == (
        "IfNotPresent"
    )

    # create again: AlreadyExists, in kubectl's words
    again = await run_kubectl(kubeconfig, "-n", namespace, "create", "-f", str(manifest))
    assert again.returncode == 1
    assert 'deployments.apps "api" already exists' in again.stderr

    # apply adopts the created objects (a warning each), then is idempotent
    first = await run_kubectl(kubeconfig, "-n", namespace, "apply", "-f", str(manifest), check=True)
    assert "deployment.apps/api configured" in first.stdout
    assert "missing the kubectl.kubernetes.io/last-applied-configuration" in first.stderr
    second = await run_kubectl(
        kubeconfig, "-n", namespace, "apply", "-f", str(manifest), check=True
    )
    assert second.stdout.splitlines() == [
        "deployment.apps/api unchanged",
        "configmap/api-config unchanged",
        "secret/api-secret unchanged",
    ]
    applied = await kubectl_json(kubeconfig, "-n", namespace, "get", "deploy", "api")
    assert "kubectl.kubernetes.io/last-applied-configuration" in applied["metadata"]["annotations"]
    assert applied["metadata"]["generation"] == 1  # only metadata changed

    # apply a changed manifest: a three-way strategic merge patch
    manifest.write_text(MANIFESTS.replace("replicas: 2", "replicas: 3"))
    third = await run_kubectl(kubeconfig, "-n", namespace, "apply", "-f", str(manifest), check=True)
    assert "deployment.apps/api configured" in third.stdout
    scaled = await kubectl_json(kubeconfig, "-n", namespace, "get", "deploy", "api")
    assert scaled["spec"]["replicas"] == 3
    assert scaled["metadata"]["generation"] == 2

    deleted = await run_kubectl(
        kubeconfig, "-n", namespace, "delete", "-f", str(manifest), check=True
    )
    assert deleted.stdout.splitlines() == [
        'deployment.apps "api" deleted',
        'configmap "api-config" deleted',
        'secret "api-secret" deleted',
    ]
    missing = await run_kubectl(kubeconfig, "-n", namespace, "get", "deploy", "api")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        'Error from server (NotFound): deployments.apps "api" not found'
    )


async def test_set_image_annotate_label_scale(kubeconfig: Path, namespace: str) -> None:
    await run_kubectl(
        kubeconfig, "-n", namespace, "create", "-f", "-", stdin=DEPLOYMENT, check=True
    )
    image = "registry.example/team/api:9f1e2d3"
    result = await run_kubectl(
        kubeconfig, "-n", namespace, "set", "image", "deployment/api", f"api={image}", check=True
    )
    assert result.stdout.strip() == "deployment.apps/api image updated"
    deployment = await kubectl_json(kubeconfig, "-n", namespace, "get", "deploy", "api")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    # merged by name: only `api` changed, the sidecar and the env are untouched
    assert [(c["name"], c["image"]) for c in containers] == [
        ("api", image),
        ("sidecar", "registry.example/team/proxy:1.0"),
    ]
    assert containers[0]["env"] == [{"name": "MODE", "value": "production"}]
    assert deployment["metadata"]["generation"] == 2

    await run_kubectl(
        kubeconfig,
        "-n",
        namespace,
        "annotate",
        "deploy",
        "api",
        "kubernetes.io/change-cause=deploy 9f1e2d3",
        check=True,
    )
    await run_kubectl(kubeconfig, "-n", namespace, "label", "deploy", "api", "tier=web", check=True)
    overwrite = await run_kubectl(
        kubeconfig, "-n", namespace, "label", "deploy", "api", "tier=worker"
    )
    assert overwrite.returncode == 1
    assert "'tier' already has a value (web), and --overwrite is false" in overwrite.stderr
    scaled = await run_kubectl(
        kubeconfig, "-n", namespace, "scale", "deploy", "api", "--replicas=4", check=True
    )
    assert scaled.stdout.strip() == "deployment.apps/api scaled"

    deployment = await kubectl_json(kubeconfig, "-n", namespace, "get", "deploy", "api")
    assert deployment["metadata"]["annotations"]["kubernetes.io/change-cause"] == ("deploy 9f1e2d3")
    assert deployment["metadata"]["labels"] == {"app": "api", "tier": "web"}
    assert deployment["spec"]["replicas"] == 4
    assert deployment["metadata"]["generation"] == 3

    by_label = await run_kubectl(
        kubeconfig,
        "-n",
        namespace,
        "get",
        "deploy",
        "-l",
        "tier in (web,api),app=api",
        "-o",
        "name",
        check=True,
    )
    assert by_label.stdout.split() == ["deployment.apps/api"]
    none = await run_kubectl(
        kubeconfig, "-n", namespace, "get", "deploy", "-l", "tier!=web", "-o", "name", check=True
    )
    assert none.stdout == ""

    described = await run_kubectl(
        kubeconfig, "-n", namespace, "describe", "deploy", "api", check=True
    )
    assert f"Image:      {image}" in described.stdout
    assert "RollingUpdateStrategy:  25% max unavailable, 25% max surge" in described.stdout


async def test_get_pods_by_label_and_events_by_field(kubeconfig: Path, namespace: str) -> None:
    for name, app in (("api-1", "api"), ("api-2", "api"), ("worker-1", "worker")):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"containers": [{"name": "main", "image": "registry.example/x:1"}]},
        }
        await run_kubectl(
            kubeconfig, "-n", namespace, "create", "-f", "-", stdin=json.dumps(pod), check=True
        )
    pods = await run_kubectl(
        kubeconfig, "-n", namespace, "get", "pods", "-l", "app=api", "-o", "name", check=True
    )
    assert pods.stdout.split() == ["pod/api-1", "pod/api-2"]
    table = await run_kubectl(
        kubeconfig, "-n", namespace, "get", "pods", "-l", "app=api", check=True
    )
    assert table.stdout.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]

    # events about objects no controller touches, so a real cluster's kubelet adds none
    for involved, reason in (("ghost-1", "Pulling"), ("ghost-2", "Pulled")):
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{involved}.{reason.lower()}"},
            "involvedObject": {
                "kind": "Pod",
                "name": involved,
                "namespace": namespace,
                "apiVersion": "v1",
            },
            "reason": reason,
            "message": f"{reason} image",
            "type": "Normal",
            "source": {"component": "kubelet"},
        }
        await run_kubectl(
            kubeconfig, "-n", namespace, "create", "-f", "-", stdin=json.dumps(event), check=True
        )
    events = await run_kubectl(
        kubeconfig,
        "-n",
        namespace,
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=ghost-1",
        check=True,
    )
    lines = events.stdout.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert len(lines) == 2
    assert lines[1].split()[1:5] == ["Normal", "Pulling", "pod/ghost-1", "Pulling"]

    gone = await run_kubectl(
        kubeconfig, "-n", namespace, "delete", "pod", "-l", "app=api", "--wait=false", check=True
    )
    assert sorted(gone.stdout.splitlines()) == ['pod "api-1" deleted', 'pod "api-2" deleted']
    # gone, or (graceful deletion on a real cluster) terminating
    left = await kubectl_json(kubeconfig, "-n", namespace, "get", "pods")
    remaining = {p["metadata"]["name"]: p["metadata"] for p in left["items"]}
    assert "worker-1" in remaining
    assert all(
        remaining[name].get("deletionTimestamp") for name in ("api-1", "api-2") if name in remaining
    )


async def test_invalid_deployment_is_rejected_with_the_servers_reasons(
    kubeconfig: Path, namespace: str
) -> None:
    broken = DEPLOYMENT.replace("labels: {app: api}\n    spec:", "labels: {app: other}\n    spec:")
    result = await run_kubectl(kubeconfig, "-n", namespace, "create", "-f", "-", stdin=broken)
    assert result.returncode == 1
    assert (
        'The Deployment "api" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"other"}: `selector` does not match template `labels`'
        in (result.stderr)
    )


@pytest.mark.skipif(real_cluster() is not None, reason="inspects the sandbox store")
async def test_kubectl_writes_reach_the_store(sandbox_cluster, kubeconfig: Path) -> None:
    from sandbox.cluster.resources import DEPLOYMENTS

    await run_kubectl(kubeconfig, "create", "-f", "-", stdin=DEPLOYMENT, check=True)
    await run_kubectl(kubeconfig, "set", "image", "deploy/api", "sidecar=proxy:2", check=True)
    stored = sandbox_cluster.store.get(DEPLOYMENTS, "default", "api")
    images = [c["image"] for c in stored["spec"]["template"]["spec"]["containers"]]
    assert images == ["registry.example/team/api:237c6b9", "proxy:2"]


async def test_diff_and_server_dry_run_change_nothing(
    kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(DEPLOYMENT)
    await run_kubectl(kubeconfig, "-n", namespace, "apply", "-f", str(manifest), check=True)
    before = await kubectl_json(kubeconfig, "-n", namespace, "get", "deploy", "api")

    manifest.write_text(DEPLOYMENT.replace("replicas: 2", "replicas: 5"))
    diff = await run_kubectl(kubeconfig, "-n", namespace, "diff", "-f", str(manifest))
    assert diff.returncode == 1  # kubectl diff: 1 means "there are differences"
    assert "-  replicas: 2\n+  replicas: 5" in diff.stdout
    dry = await run_kubectl(
        kubeconfig, "-n", namespace, "delete", "deploy", "api", "--dry-run=server", check=True
    )
    assert dry.stdout.strip() == 'deployment.apps "api" deleted (server dry run)'
    created = await run_kubectl(
        kubeconfig,
        "-n",
        namespace,
        "create",
        "-f",
        "-",
        "--dry-run=server",
        stdin=DEPLOYMENT.replace("name: api\n", "name: web\n", 1),
        check=True,
    )
    assert created.stdout.strip() == "deployment.apps/web created (server dry run)"

    after = await kubectl_json(kubeconfig, "-n", namespace, "get", "deploy")
    assert [d["metadata"]["name"] for d in after["items"]] == ["api"]
    # controllers may have written the status since; spec and generation are untouched
    (live,) = after["items"]
    assert live["spec"] == before["spec"]
    assert live["metadata"]["generation"] == before["metadata"]["generation"]


async def test_imperative_creates_send_protobuf_and_work(kubeconfig: Path) -> None:
    """kubectl's typed clients POST protobuf bodies: the sandbox decodes them."""
    name = f"deckhand-pb-{uuid.uuid4().hex[:8]}"
    try:
        created = await run_kubectl(kubeconfig, "create", "namespace", name, check=True)
        assert created.stdout.strip() == f"namespace/{name} created"
        steps = [
            ("create", "configmap", "settings", "--from-literal=LOG_LEVEL=debug"),
            (
                "create",
                "secret",
                "docker-registry",
                "regcred",
                "--docker-server=reg.example",
                "--docker-username=deploy",
                "--docker-password=s3cret",
            ),
            (
                "create",
                "deployment",
                "web",
                "--image=reg.example/team/web:1.0",
                "--port=8080",
                "--replicas=2",
            ),
            ("create", "service", "clusterip", "web", "--tcp=80:8080"),
        ]
        for step in steps:
            await run_kubectl(kubeconfig, "-n", name, *step, check=True)
        secret = await kubectl_json(kubeconfig, "-n", name, "get", "secret", "regcred")
        assert secret["type"] == "kubernetes.io/dockerconfigjson"
        assert base64.b64decode(secret["data"][".dockerconfigjson"]).startswith(b'{"auths"')
        deployment = await kubectl_json(kubeconfig, "-n", name, "get", "deploy", "web")
        assert deployment["spec"]["replicas"] == 2
        assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert (container["image"], container["ports"][0]["containerPort"]) == (
            "reg.example/team/web:1.0",
            8080,
        )
        service = await kubectl_json(kubeconfig, "-n", name, "get", "svc", "web")
        assert service["spec"]["ports"][0]["targetPort"] == 8080
        assert service["spec"]["clusterIP"]
        config = await kubectl_json(kubeconfig, "-n", name, "get", "cm", "settings")
        assert config["data"] == {"LOG_LEVEL": "debug"}
        can = await run_kubectl(kubeconfig, "auth", "can-i", "patch", "deployments", "-n", name)
        assert can.stdout.strip() == "yes"
    finally:
        await run_kubectl(kubeconfig, "delete", "namespace", name, "--wait=false")


@pytest.mark.skipif(real_cluster() is not None, reason="configures the sandbox's denials")
async def test_auth_can_i_follows_the_sandbox_denials(sandbox_cluster, kubeconfig: Path) -> None:
    sandbox_cluster.deny("patch", "deployments", "default")
    denied = await run_kubectl(kubeconfig, "auth", "can-i", "patch", "deployments")
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    other = await run_kubectl(kubeconfig, "auth", "can-i", "get", "deployments")
    assert other.stdout.strip() == "yes"
