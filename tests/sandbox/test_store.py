"""The sandbox store and its pure helpers, without HTTP.

Covers: label and field selectors (parse + match tables), the three patch types
(strategic merge by merge key and directives, merge patch null-deletes, JSON
patch ops and failures), create defaults and errors, optimistic concurrency,
generation bumping and the status subresource, no-op writes, watch replay,
selector transitions, the bounded history's 410 Expired, subscriptions,
finalizers, garbage collection (background cascade, orphaning, namespaces), and
pod logs.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from sandbox.cluster.clock import Clock
from sandbox.cluster.errors import ApiError
from sandbox.cluster.patch import PatchError, json_patch, merge_patch, strategic_merge
from sandbox.cluster.resources import (
    CONFIGMAPS,
    DEPLOYMENTS,
    EVENTS,
    NAMESPACES,
    PODS,
    REPLICASETS,
    RESOURCES,
)
from sandbox.cluster.selectors import parse_field_selector, parse_label_selector
from sandbox.cluster.store import Store

Obj = dict[str, Any]


def deployment(name: str = "api", image: str = "api:1", **spec: Any) -> Obj:
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "api", "image": image}]},
            },
            **spec,
        },
    }


def pod(name: str, labels: dict[str, str] | None = None, owner: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": labels or {}}
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": owner["apiVersion"],
                "kind": owner["kind"],
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
            }
        ]
    return {"metadata": meta, "spec": {"containers": [{"name": "main", "image": "x:1"}]}}


@pytest.fixture
def store() -> Store:
    s = Store(Clock(speed=1.0))
    for name in ("default", "prod"):
        s.create(NAMESPACES, {"metadata": {"name": name}})
    return s


# ------------------------------------------------------------------ selectors

LABELS = {"app": "api", "tier": "web", "canary": "true"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=api", True),
        ("app==api", True),
        ("app=worker", False),
        ("app!=worker", True),
        ("app!=api", False),
        ("missing!=x", True),
        ("tier in (web,worker)", True),
        ("tier in (worker)", False),
        ("tier notin (worker)", True),
        ("tier notin (web, worker)", False),
        ("missing notin (x)", True),
        ("canary", True),
        ("missing", False),
        ("!missing", True),
        ("!canary", False),
        ("app=api,tier in (web),!missing", True),
        ("app=api,tier=worker", False),
        (" app = api , tier=web ", True),
    ],
)
def test_label_selector(selector: str, matches: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize("selector", ["app=a,,b=c", "a b=c", "=x", "app in (a b"])
def test_malformed_label_selector_is_400(selector: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_label_selector(selector)
    assert caught.value.code == 400


EVENT = {
    "metadata": {"name": "api.1", "namespace": "prod"},
    "involvedObject": {"kind": "Deployment", "name": "api", "namespace": "prod"},
    "reason": "ScalingReplicaSet",
    "type": "Normal",
    "source": {"component": "deployment"},
}


@pytest.mark.parametrize(
    ("plural", "selector", "obj", "matches"),
    [
        ("events", "involvedObject.name=api", EVENT, True),
        ("events", "involvedObject.name=api,involvedObject.kind=Deployment", EVENT, True),
        ("events", "involvedObject.name=web", EVENT, False),
        ("events", "type!=Warning", EVENT, True),
        ("events", "reason==ScalingReplicaSet", EVENT, True),
        ("events", "source=deployment", EVENT, True),
        ("events", "metadata.namespace=prod", EVENT, True),
        ("pods", "status.phase=Running", {"metadata": {}, "status": {"phase": "Running"}}, True),
        ("pods", "status.phase!=Running", {"metadata": {}, "status": {"phase": "Pending"}}, True),
        ("pods", "spec.nodeName=node-1", {"metadata": {}, "spec": {"nodeName": "node-1"}}, True),
        ("pods", "spec.nodeName=", {"metadata": {}, "spec": {}}, True),
        ("deployments", "metadata.name=api", {"metadata": {"name": "api"}}, True),
    ],
)
def test_field_selector(plural: str, selector: str, obj: Obj, matches: bool) -> None:
    assert parse_field_selector(selector, plural).matches(obj) is matches


@pytest.mark.parametrize(
    ("plural", "selector"),
    [("deployments", "spec.replicas=1"), ("pods", "spec.image=x"), ("events", "nonsense")],
)
def test_unsupported_field_selector_is_400(plural: str, selector: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_field_selector(selector, plural)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"


# ------------------------------------------------------------------ patches

POD_SPEC = {
    "spec": {
        "containers": [
            {
                "name": "api",
                "image": "api:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
            },
            {"name": "proxy", "image": "proxy:1"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "nodeSelector": {"disk": "ssd", "zone": "a"},
    },
    "metadata": {"finalizers": ["a"], "labels": {"x": "1"}},
}


def containers(obj: Obj) -> list[tuple[str, str]]:
    return [(c["name"], c["image"]) for c in obj["spec"]["containers"]]


@pytest.mark.parametrize(
    ("patch", "check"),
    [
        # containers merge by name: one image changes, the other container stays
        (
            {"spec": {"containers": [{"name": "api", "image": "api:2"}]}},
            lambda o: containers(o) == [("api", "api:2"), ("proxy", "proxy:1")],
        ),
        # a new name is appended
        (
            {"spec": {"containers": [{"name": "log", "image": "log:1"}]}},
            lambda o: containers(o)[-1] == ("log", "log:1") and len(containers(o)) == 3,
        ),
        # env merges by name inside the merged container
        (
            {"spec": {"containers": [{"name": "api", "env": [{"name": "B", "value": "3"}]}]}},
            lambda o: (
                o["spec"]["containers"][0]["env"]
                == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
            ),
        ),
        # container ports merge by containerPort
        (
            {"spec": {"containers": [{"name": "api", "ports": [{"containerPort": 81}]}]}},
            lambda o: [p["containerPort"] for p in o["spec"]["containers"][0]["ports"]] == [80, 81],
        ),
        # $patch: delete removes one element of a merged list
        (
            {"spec": {"containers": [{"name": "proxy", "$patch": "delete"}]}},
            lambda o: containers(o) == [("api", "api:1")],
        ),
        # $patch: replace on a list replaces it whole
        (
            {"spec": {"containers": [{"name": "only", "image": "o:1"}, {"$patch": "replace"}]}},
            lambda o: containers(o) == [("only", "o:1")],
        ),
        # $patch: replace on a map replaces the map
        (
            {"spec": {"nodeSelector": {"zone": "b", "$patch": "replace"}}},
            lambda o: o["spec"]["nodeSelector"] == {"zone": "b"},
        ),
        # $patch: delete on a map deletes it
        (
            {"spec": {"nodeSelector": {"$patch": "delete"}}},
            lambda o: "nodeSelector" not in o["spec"],
        ),
        # null deletes a key
        (
            {"spec": {"nodeSelector": {"disk": None}}},
            lambda o: o["spec"]["nodeSelector"] == {"zone": "a"},
        ),
        # lists without a merge key are replaced
        (
            {"spec": {"containers": [{"name": "api", "args": ["--x"]}]}},
            lambda o: o["spec"]["containers"][0]["args"] == ["--x"],
        ),
        # $setElementOrder reorders; kubectl set image sends it
        (
            {
                "spec": {
                    "$setElementOrder/containers": [{"name": "proxy"}, {"name": "api"}],
                    "containers": [{"name": "api", "image": "api:3"}],
                }
            },
            lambda o: containers(o) == [("proxy", "proxy:1"), ("api", "api:3")],
        ),
        # finalizers merge as a set; $deleteFromPrimitiveList removes
        (
            {"metadata": {"finalizers": ["b", "a"]}},
            lambda o: o["metadata"]["finalizers"] == ["a", "b"],
        ),
        (
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
            lambda o: o["metadata"]["finalizers"] == [],
        ),
        # $retainKeys keeps only the listed keys
        (
            {"spec": {"nodeSelector": {"$retainKeys": ["zone"], "zone": "c"}}},
            lambda o: o["spec"]["nodeSelector"] == {"zone": "c"},
        ),
        # volumes merge by name
        (
            {"spec": {"volumes": [{"name": "cache", "emptyDir": {}}]}},
            lambda o: [v["name"] for v in o["spec"]["volumes"]] == ["data", "cache"],
        ),
    ],
)
def test_strategic_merge(patch: Obj, check: Any) -> None:
    original = copy.deepcopy(POD_SPEC)
    result = strategic_merge(original, patch)
    assert check(result), result
    assert original == POD_SPEC  # the input is never modified


def test_strategic_merge_needs_the_merge_key() -> None:
    with pytest.raises(PatchError):
        strategic_merge(POD_SPEC, {"spec": {"containers": [{"image": "x"}]}})


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": 1, "b": 2}, {"b": None}, {"a": 1}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"y": None, "z": 3}}, {"a": {"x": 1, "z": 3}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),  # lists are replaced
        ({"a": 1}, {"a": {"b": 1}}, {"a": {"b": 1}}),
        ({"a": {"b": 1}}, {"a": 2}, {"a": 2}),
        ({"a": 1}, {"missing": None}, {"a": 1}),
        (
            {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}},
            {"spec": {"containers": [{"name": "c"}]}},
            {"spec": {"containers": [{"name": "c"}]}},
        ),
    ],
)
def test_merge_patch(target: Obj, patch: Obj, expected: Obj) -> None:
    assert merge_patch(target, patch) == expected


DOC = {
    "spec": {"replicas": 1, "template": {"containers": [{"name": "a"}, {"name": "b"}]}},
    "metadata": {"labels": {"app/name": "x"}},
}


@pytest.mark.parametrize(
    ("ops", "check"),
    [
        (
            [{"op": "replace", "path": "/spec/replicas", "value": 3}],
            lambda d: d["spec"]["replicas"] == 3,
        ),
        (
            [{"op": "add", "path": "/spec/paused", "value": True}],
            lambda d: d["spec"]["paused"] is True,
        ),
        (
            [{"op": "add", "path": "/spec/template/containers/-", "value": {"name": "c"}}],
            lambda d: [c["name"] for c in d["spec"]["template"]["containers"]] == ["a", "b", "c"],
        ),
        (
            [{"op": "add", "path": "/spec/template/containers/0", "value": {"name": "z"}}],
            lambda d: [c["name"] for c in d["spec"]["template"]["containers"]] == ["z", "a", "b"],
        ),
        (
            [{"op": "remove", "path": "/spec/template/containers/0"}],
            lambda d: [c["name"] for c in d["spec"]["template"]["containers"]] == ["b"],
        ),
        (
            [{"op": "remove", "path": "/metadata/labels/app~1name"}],
            lambda d: d["metadata"]["labels"] == {},
        ),
        (
            [
                {"op": "test", "path": "/spec/replicas", "value": 1},
                {"op": "replace", "path": "/spec/replicas", "value": 5},
            ],
            lambda d: d["spec"]["replicas"] == 5,
        ),
        (
            [{"op": "move", "from": "/spec/replicas", "path": "/spec/count"}],
            lambda d: d["spec"]["count"] == 1 and "replicas" not in d["spec"],
        ),
        (
            [{"op": "copy", "from": "/spec/replicas", "path": "/spec/count"}],
            lambda d: d["spec"]["count"] == 1 and d["spec"]["replicas"] == 1,
        ),
        (
            [{"op": "replace", "path": "/spec/template", "value": {"containers": []}}],
            lambda d: d["spec"]["template"] == {"containers": []},
        ),
    ],
)
def test_json_patch(ops: list[Obj], check: Any) -> None:
    original = copy.deepcopy(DOC)
    assert check(json_patch(original, ops))
    assert original == DOC


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (
            [{"op": "test", "path": "/spec/replicas", "value": 2}],
            "testing value /spec/replicas failed: test failed",
        ),
        (
            [{"op": "remove", "path": "/spec/missing"}],
            "Unable to remove nonexistent key: missing: missing value",
        ),
        (
            [{"op": "replace", "path": "/spec/missing", "value": 1}],
            "replace operation does not apply: doc is missing key: /spec/missing: missing value",
        ),
        (
            [{"op": "add", "path": "/nope/deeper", "value": 1}],
            'add operation does not apply: doc is missing path: "/nope/deeper": missing value',
        ),
        (
            [{"op": "remove", "path": "/spec/template/containers/7"}],
            "Unable to access invalid index: 7: invalid index referenced",
        ),
        ([{"op": "frobnicate", "path": "/spec"}], "Unexpected kind: frobnicate"),
    ],
)
def test_json_patch_failures(ops: list[Obj], message: str) -> None:
    with pytest.raises(PatchError, match="^" + message.replace("(", r"\(") + "$"):
        json_patch(DOC, ops)


# ------------------------------------------------------------------ create / update


def test_create_sets_server_fields_and_defaults(store: Store) -> None:
    created = store.create(DEPLOYMENTS, deployment(), namespace="prod")
    meta = created["metadata"]
    assert (created["apiVersion"], created["kind"]) == ("apps/v1", "Deployment")
    assert meta["namespace"] == "prod"
    assert meta["generation"] == 1
    assert len(meta["uid"]) == 36
    assert meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    spec = created["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    container = spec["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("api", "Always"),
        ("api:latest", "Always"),
        ("reg:5000/api", "Always"),
        ("reg:5000/api:1", "IfNotPresent"),
        ("api@sha256:" + "0" * 64, "IfNotPresent"),
    ],
)
def test_image_pull_policy_default(store: Store, image: str, policy: str) -> None:
    created = store.create(
        PODS,
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": image}]}},
        namespace="default",
    )
    assert created["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_resource_versions_increase_globally(store: Store) -> None:
    a = store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
    b = store.create(DEPLOYMENTS, deployment(), namespace="default")
    items, list_rv = store.list(CONFIGMAPS)
    assert int(a["metadata"]["resourceVersion"]) < int(b["metadata"]["resourceVersion"])
    assert list_rv == b["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in items] == ["a"]


def test_generate_name(store: Store) -> None:
    created = store.create(
        PODS,
        {
            "metadata": {"generateName": "api-7d9c-"},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        },
        namespace="default",
    )
    name = created["metadata"]["name"]
    assert name.startswith("api-7d9c-")
    assert len(name) == len("api-7d9c-") + 5


@pytest.mark.parametrize(
    ("resource", "obj", "namespace", "code", "reason", "message"),
    [
        (
            CONFIGMAPS,
            {"metadata": {"name": "a"}},
            "nowhere",
            404,
            "NotFound",
            'namespaces "nowhere" not found',
        ),
        (
            CONFIGMAPS,
            {"metadata": {}},
            "default",
            422,
            "Invalid",
            'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is '
            "required",
        ),
        (
            DEPLOYMENTS,
            deployment(name="Bad_Name"),
            "default",
            422,
            "Invalid",
            'Deployment.apps "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a '
            "lowercase RFC 1123 subdomain",
        ),
        (
            DEPLOYMENTS,
            {"metadata": {"name": "x"}, "spec": {"selector": {"matchLabels": {"app": "x"}}}},
            "default",
            422,
            "Invalid",
            'Deployment.apps "x" is invalid: [spec.template.metadata.labels: Invalid value: '
            "map[string]string(nil): `selector` does not match template `labels`, "
            "spec.template.spec.containers: Required value]",
        ),
        (
            DEPLOYMENTS,
            deployment(replicas=-1),
            "default",
            422,
            "Invalid",
            'Deployment.apps "api" is invalid: spec.replicas: Invalid value: -1: must be greater '
            "than or equal to 0",
        ),
        (
            PODS,
            {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}},
            "default",
            422,
            "Invalid",
            'Pod "p" is invalid: spec.containers[0].image: Required value',
        ),
    ],
)
def test_create_errors_leave_the_store_unchanged(
    store: Store, resource: Any, obj: Obj, namespace: str, code: int, reason: str, message: str
) -> None:
    before = store.resource_version
    with pytest.raises(ApiError) as caught:
        store.create(resource, obj, namespace=namespace)
    assert (caught.value.code, caught.value.reason) == (code, reason)
    assert caught.value.message.startswith(message)
    assert store.resource_version == before
    assert store.list(resource)[0] == []


def test_already_exists(store: Store) -> None:
    store.create(DEPLOYMENTS, deployment(), namespace="default")
    with pytest.raises(ApiError) as caught:
        store.create(DEPLOYMENTS, deployment(image="other"), namespace="default")
    assert caught.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "api" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "api", "group": "apps", "kind": "deployments"},
        "code": 409,
    }
    assert (
        store.get(DEPLOYMENTS, "default", "api")["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
        == "api:1"
    )


def test_stale_resource_version_conflicts(store: Store) -> None:
    first = store.create(DEPLOYMENTS, deployment(), namespace="default")
    store.mutate(DEPLOYMENTS, "default", "api", lambda d: d["spec"].update(replicas=2))
    first["spec"]["replicas"] = 5
    with pytest.raises(ApiError) as caught:
        store.replace(DEPLOYMENTS, first)
    assert caught.value.code == 409
    assert caught.value.message == (
        'Operation cannot be fulfilled on deployments.apps "api": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    assert store.get(DEPLOYMENTS, "default", "api")["spec"]["replicas"] == 2
    # without a resourceVersion the update is unconditional
    del first["metadata"]["resourceVersion"]
    assert store.replace(DEPLOYMENTS, first)["spec"]["replicas"] == 5


@pytest.mark.parametrize(
    ("change", "generation"),
    [
        (lambda d: d["spec"].update(replicas=3), 2),
        (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="api:2"), 2),
        (lambda d: d["metadata"].setdefault("annotations", {}).update(a="b"), 1),
        (lambda d: d["metadata"]["labels"].update(tier="web"), 1),
        (lambda d: d.update(status={"replicas": 3}), 1),  # status is ignored on the main resource
    ],
)
def test_generation_bumps_only_on_spec_changes(store: Store, change: Any, generation: int) -> None:
    store.create(DEPLOYMENTS, deployment(), namespace="default")
    updated = store.mutate(DEPLOYMENTS, "default", "api", change)
    assert updated["metadata"]["generation"] == generation
    assert "status" not in updated


def test_status_subresource_changes_only_status(store: Store) -> None:
    created = store.create(DEPLOYMENTS, deployment(), namespace="default")

    def both(d: Obj) -> None:
        d["spec"]["replicas"] = 9
        d["status"] = {"observedGeneration": 1, "replicas": 1}

    updated = store.mutate(DEPLOYMENTS, "default", "api", both, subresource="status")
    assert updated["status"] == {"observedGeneration": 1, "replicas": 1}
    assert updated["spec"]["replicas"] == 1
    assert updated["metadata"]["generation"] == 1
    assert updated["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]


def test_no_op_write_changes_nothing(store: Store) -> None:
    created = store.create(DEPLOYMENTS, deployment(), namespace="default")
    queue = store.subscribe()
    same = store.mutate(DEPLOYMENTS, "default", "api", lambda d: None)
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert queue.empty()


def test_reads_are_copies(store: Store) -> None:
    store.create(DEPLOYMENTS, deployment(), namespace="default")
    got = store.get(DEPLOYMENTS, "default", "api")
    got["spec"]["replicas"] = 100
    assert store.get(DEPLOYMENTS, "default", "api")["spec"]["replicas"] == 1


def test_registry_lookups() -> None:
    assert RESOURCES.by_path("apps", "v1", "deployments") is DEPLOYMENTS
    assert RESOURCES.by_kind("Event") is EVENTS
    assert RESOURCES.by_name("deploy") is DEPLOYMENTS
    assert RESOURCES.by_name("rs") is REPLICASETS
    assert DEPLOYMENTS.group_resource == "deployments.apps"
    assert PODS.group_resource == "pods"


# ------------------------------------------------------------------ watch


async def take(watch: Any, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        kind, obj = await asyncio.wait_for(anext(watch), 10)
        out.append((kind, obj["metadata"]["name"]))
    return out


async def test_watch_from_a_resource_version_replays_history(store: Store) -> None:
    a = store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
    store.create(CONFIGMAPS, {"metadata": {"name": "b"}}, namespace="default")
    store.mutate(CONFIGMAPS, "default", "a", lambda o: o.update(data={"k": "v"}))
    store.delete(CONFIGMAPS, "default", "b")
    watch = store.watch(CONFIGMAPS, "default", resource_version=a["metadata"]["resourceVersion"])
    try:
        assert await take(watch, 3) == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
        store.create(CONFIGMAPS, {"metadata": {"name": "c"}}, namespace="prod")  # other ns
        store.create(CONFIGMAPS, {"metadata": {"name": "d"}}, namespace="default")
        assert await take(watch, 1) == [("ADDED", "d")]
    finally:
        watch.close()


async def test_watch_without_resource_version_starts_with_the_current_state(store: Store) -> None:
    store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
    store.create(CONFIGMAPS, {"metadata": {"name": "b"}}, namespace="prod")
    watch = store.watch(CONFIGMAPS)
    try:
        assert await take(watch, 2) == [("ADDED", "a"), ("ADDED", "b")]
    finally:
        watch.close()
    assert [e async for e in watch] == []  # a closed watch ends


async def test_watch_with_a_selector_sees_objects_enter_and_leave(store: Store) -> None:
    store.create(PODS, pod("p", {"app": "api"}), namespace="default")
    watch = store.watch(
        PODS, "default", resource_version=store.resource_version, label_selector="app=api"
    )
    try:
        store.mutate(PODS, "default", "p", lambda o: o["metadata"]["labels"].update(app="x"))
        store.mutate(PODS, "default", "p", lambda o: o["metadata"]["labels"].update(v="1"))
        store.mutate(PODS, "default", "p", lambda o: o["metadata"]["labels"].update(app="api"))
        assert await take(watch, 2) == [("DELETED", "p"), ("ADDED", "p")]
        assert watch.pending() == 0
    finally:
        watch.close()


async def test_watch_from_before_the_history_is_410_expired(store: Store) -> None:
    small = Store(Clock(), history_limit=5)
    small.create(NAMESPACES, {"metadata": {"name": "default"}})
    first = small.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
    for i in range(10):
        small.mutate(CONFIGMAPS, "default", "a", lambda o, i=i: o.update(data={"i": str(i)}))
    with pytest.raises(ApiError) as caught:
        small.watch(CONFIGMAPS, resource_version=first["metadata"]["resourceVersion"])
    assert (caught.value.code, caught.value.reason) == (410, "Expired")
    assert caught.value.message.startswith(
        f"too old resource version: {first['metadata']['resourceVersion']} ("
    )
    # the newest resource version is still fine
    small.watch(CONFIGMAPS, resource_version=small.resource_version).close()


async def test_subscribers_see_every_change(store: Store) -> None:
    queue = store.subscribe()
    store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
    store.create(DEPLOYMENTS, deployment(), namespace="default")
    store.delete(CONFIGMAPS, "default", "a")
    seen = [queue.get_nowait() for _ in range(3)]
    assert [(t, r.plural, o["metadata"]["name"]) for t, r, o in seen] == [
        ("ADDED", "configmaps", "a"),
        ("ADDED", "deployments", "api"),
        ("DELETED", "configmaps", "a"),
    ]
    store.unsubscribe(queue)
    store.create(CONFIGMAPS, {"metadata": {"name": "b"}}, namespace="default")
    assert queue.empty()


# ------------------------------------------------------------------ delete / GC


def chain(store: Store) -> tuple[Obj, Obj, Obj]:
    d = store.create(DEPLOYMENTS, deployment(), namespace="default")
    rs_body = deployment(name="api-5d8f")
    rs_body["metadata"]["ownerReferences"] = pod("x", owner=d)["metadata"]["ownerReferences"]
    rs = store.create(REPLICASETS, rs_body, namespace="default")
    p = store.create(PODS, pod("api-5d8f-abcde", owner=rs), namespace="default")
    return d, rs, p


def test_deleting_a_deployment_cascades_to_its_replicasets_and_pods(store: Store) -> None:
    chain(store)
    store.create(PODS, pod("unowned"), namespace="default")
    deleted = store.delete(DEPLOYMENTS, "default", "api")
    assert deleted["metadata"]["name"] == "api"
    assert store.list(REPLICASETS)[0] == []
    assert [p["metadata"]["name"] for p in store.list(PODS)[0]] == ["unowned"]


def test_orphan_propagation_keeps_dependents_without_the_reference(store: Store) -> None:
    chain(store)
    store.delete(DEPLOYMENTS, "default", "api", propagation="Orphan")
    (rs,) = store.list(REPLICASETS)[0]
    assert "ownerReferences" not in rs["metadata"]
    assert len(store.list(PODS)[0]) == 1


def test_a_dependent_with_another_live_owner_survives(store: Store) -> None:
    chain(store)
    other = store.create(CONFIGMAPS, {"metadata": {"name": "owner"}}, namespace="default")
    store.mutate(
        PODS,
        "default",
        "api-5d8f-abcde",
        lambda o: o["metadata"]["ownerReferences"].append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": "owner",
                "uid": other["metadata"]["uid"],
            }
        ),
    )
    store.delete(DEPLOYMENTS, "default", "api")
    (survivor,) = store.list(PODS)[0]
    assert [r["kind"] for r in survivor["metadata"]["ownerReferences"]] == ["ConfigMap"]


def test_finalizers_delay_deletion(store: Store) -> None:
    body = {"metadata": {"name": "a", "finalizers": ["example.com/hold"]}}
    store.create(CONFIGMAPS, body, namespace="default")
    marked = store.delete(CONFIGMAPS, "default", "a")
    assert marked["metadata"]["deletionTimestamp"]
    assert store.get(CONFIGMAPS, "default", "a")["metadata"]["deletionTimestamp"]
    store.mutate(CONFIGMAPS, "default", "a", lambda o: o["metadata"].update(finalizers=[]))
    with pytest.raises(ApiError):
        store.get(CONFIGMAPS, "default", "a")


def test_deleting_a_namespace_deletes_its_objects(store: Store) -> None:
    chain(store)
    store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="prod")
    store.delete(NAMESPACES, None, "default")
    assert store.list(DEPLOYMENTS)[0] == store.list(PODS)[0] == []
    assert [c["metadata"]["name"] for c in store.list(CONFIGMAPS)[0]] == ["a"]


@pytest.mark.parametrize(
    ("uid", "rv", "fragment"),
    [
        ("wrong", None, "Precondition failed: UID in precondition: wrong"),
        (None, "1", "Precondition failed: ResourceVersion in precondition: 1"),
    ],
)
def test_delete_preconditions(store: Store, uid: str | None, rv: str | None, fragment: str) -> None:
    store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
    with pytest.raises(ApiError) as caught:
        store.delete(CONFIGMAPS, "default", "a", uid=uid, resource_version=rv)
    assert caught.value.code == 409
    assert fragment in caught.value.message
    store.get(CONFIGMAPS, "default", "a")


def test_delete_missing_is_404(store: Store) -> None:
    with pytest.raises(ApiError) as caught:
        store.delete(DEPLOYMENTS, "default", "nope")
    assert caught.value.message == 'deployments.apps "nope" not found'


# ------------------------------------------------------------------ logs and events


def test_pod_logs(store: Store) -> None:
    store.create(PODS, pod("p"), namespace="default")
    for i in range(5):
        store.append_log("default", "p", "main", f"line {i}")
    assert store.read_log("default", "p") == [f"line {i}" for i in range(5)]
    assert store.read_log("default", "p", "main", tail=2) == ["line 3", "line 4"]
    with pytest.raises(ApiError) as caught:
        store.read_log("default", "p", "other")
    assert caught.value.message == "container other is not valid for pod p"
    store.delete(PODS, "default", "p")
    store.create(PODS, pod("p"), namespace="default")
    assert store.read_log("default", "p") == []  # a new pod of the same name starts empty


def test_record_event_counts_repeats(store: Store) -> None:
    d = store.create(DEPLOYMENTS, deployment(), namespace="default")
    store.record_event(d, reason="ScalingReplicaSet", message="Scaled up to 1")
    again = store.record_event(d, reason="ScalingReplicaSet", message="Scaled up to 1")
    assert again["count"] == 2
    events, _ = store.list(EVENTS, "default", field_selector="involvedObject.name=api")
    assert len(events) == 1
    assert events[0]["involvedObject"]["uid"] == d["metadata"]["uid"]


def test_dry_run_changes_nothing(store: Store) -> None:
    queue = store.subscribe()
    would = store.create(DEPLOYMENTS, deployment(), namespace="default", dry_run=True)
    assert would["metadata"]["generation"] == 1
    assert "resourceVersion" not in would["metadata"]
    assert store.list(DEPLOYMENTS)[0] == []
    created = store.create(DEPLOYMENTS, deployment(), namespace="default")
    changed = store.get(DEPLOYMENTS, "default", "api")
    changed["spec"]["replicas"] = 4
    would = store.replace(DEPLOYMENTS, changed, dry_run=True)
    assert (would["spec"]["replicas"], would["metadata"]["generation"]) == (4, 2)
    store.delete(DEPLOYMENTS, "default", "api", dry_run=True)
    assert store.get(DEPLOYMENTS, "default", "api") == created
    assert [t for t, _, _ in [queue.get_nowait() for _ in range(queue.qsize())]] == ["ADDED"]


def test_cluster_scoped_reads_ignore_a_namespace(store: Store) -> None:
    assert store.get(NAMESPACES, "whatever", "prod")["metadata"]["name"] == "prod"
    names = [n["metadata"]["name"] for n in store.list(NAMESPACES, "default")[0]]
    assert names == ["default", "prod"]
    store.watch(NAMESPACES, "default").close()


def test_replace_with_another_objects_uid_conflicts(store: Store) -> None:
    first = store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
    store.delete(CONFIGMAPS, "default", "a")
    store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
    del first["metadata"]["resourceVersion"]
    with pytest.raises(ApiError) as caught:
        store.replace(CONFIGMAPS, first)
    assert caught.value.code == 409
    assert "Precondition failed: UID in precondition" in caught.value.message


def test_a_dependent_created_after_its_owner_went_is_collected(store: Store) -> None:
    gone = store.create(CONFIGMAPS, {"metadata": {"name": "owner"}}, namespace="default")
    store.delete(CONFIGMAPS, "default", "owner")
    queue = store.subscribe()
    created = store.create(PODS, pod("late", owner=gone), namespace="default")
    assert created["metadata"]["name"] == "late"
    assert store.list(PODS)[0] == []
    assert [t for t, _, _ in (queue.get_nowait(), queue.get_nowait())] == ["ADDED", "DELETED"]
