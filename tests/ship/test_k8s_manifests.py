"""The kustomize manifests in k8s/: they build, grant least privilege (nothing
cluster-wide, secrets only by name), and run Deckhand hardened. Schema validation
against the Kubernetes OpenAPI schemas runs in `make manifests` (kubernetes-validate).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: cannot run `kubectl kustomize k8s/`")
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s")],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _of(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_nothing_cluster_wide(objects: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}


def test_secrets_are_readable_only_by_name(objects: list[dict[str, Any]]) -> None:
    for role in _of(objects, "Role"):
        for rule in role["rules"]:
            if "secrets" in rule["resources"]:
                assert rule.get("resourceNames"), role["metadata"]
                assert set(rule["verbs"]) == {"get"}


def test_target_namespace_roles_allow_what_the_rollout_engine_does(
    objects: list[dict[str, Any]],
) -> None:
    deployer = [r for r in _of(objects, "Role") if r["metadata"]["name"] == "deckhand-deployer"]
    assert {r["metadata"]["namespace"] for r in deployer} == {"honeydue", "honeydue-staging"}
    for role in deployer:
        granted = {
            (res, verb)
            for rule in role["rules"]
            for res in rule["resources"]
            for verb in rule["verbs"]
        }
        for need in [
            ("deployments", "patch"),
            ("deployments", "watch"),
            ("replicasets", "list"),
            ("pods", "watch"),
            ("pods/log", "get"),
            ("events", "watch"),
        ]:
            assert need in granted, need


def test_deployment_is_hardened_and_probed(objects: list[dict[str, Any]]) -> None:
    (deploy,) = _of(objects, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"]["memory"]


def test_disruption_budget_fits_the_replica_count(objects: list[dict[str, Any]]) -> None:
    (deploy,) = _of(objects, "Deployment")
    (pdb,) = _of(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] < deploy["spec"]["replicas"]


def test_example_secret_holds_placeholders_only(objects: list[dict[str, Any]]) -> None:
    for secret in _of(objects, "Secret"):
        for key, value in secret.get("stringData", {}).items():
            assert "REPLACE" in value or key == "DECKHAND_REGISTRY_USERNAME", key


def test_configmap_holds_the_example_config_and_it_loads(
    objects: list[dict[str, Any]], tmp_path: Path
) -> None:
    from bot.config import load_config

    (cm,) = [o for o in _of(objects, "ConfigMap") if o["metadata"]["name"] == "deckhand-config"]
    text = cm["data"]["deckhand.yaml"]
    assert text.strip() == (ROOT / "examples" / "deckhand.yaml").read_text().strip()
    path = tmp_path / "deckhand.yaml"
    path.write_text(text)
    config = load_config(path)
    namespaces = {env.namespace for env in config.environments.values()}
    deployer_namespaces = {
        r["metadata"]["namespace"]
        for r in _of(objects, "Role")
        if r["metadata"]["name"] == "deckhand-deployer"
    }
    assert namespaces == deployer_namespaces


def _grants(role: dict[str, Any]) -> set[tuple[str, str, str, str | None]]:
    return {
        (verb, res, group, name)
        for rule in role["rules"]
        for res in rule["resources"]
        for group in rule["apiGroups"]
        for verb in rule["verbs"]
        for name in (rule.get("resourceNames") or [None])
    }


def test_roles_grant_exactly_what_deckhand_needs(objects: list[dict[str, Any]]) -> None:
    """k8s/ and commands/permissions.py (what the doctor checks) say the same."""
    from commands.permissions import OWN_NAMESPACE_PERMISSIONS, target_namespace_permissions

    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in _of(objects, "Role")}
    need = {
        (p.verb, p.resource, p.group, p.name)
        for p in target_namespace_permissions("gitea-credentials")
    }
    for namespace in ("honeydue", "honeydue-staging"):
        assert _grants(roles[(namespace, "deckhand-deployer")]) == need
    own = {(p.verb, p.resource, p.group, p.name) for p in OWN_NAMESPACE_PERMISSIONS}
    assert _grants(roles[("deckhand", "deckhand-state")]) == own
