"""Error answers of the sandbox apiserver over HTTP, table-driven.

Each case sends one bad request (malformed JSON, unknown resource or path, a JSON
patch whose `test` fails or whose path is missing, a stale resourceVersion on
PUT, a duplicate create, an unsupported patch type, a verb the resource lacks,
a missing namespace, an invalid Deployment, mismatched names) and checks the
HTTP code and the whole `kind: Status` body against what the real apiserver
sends, and that the store did not change. Also: the watch's 410 (HTTP 200, then
an ERROR event), and 403 from configured denials.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from sandbox.cluster.resources import CONFIGMAPS, DEPLOYMENTS
from sandbox.cluster.server import SandboxCluster

Obj = dict[str, Any]

DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
API = DEPLOY + "/api"


@pytest.fixture
def sandbox_controllers() -> bool:
    """API only: no controller changes the store behind the test's back."""
    return False


def deployment(name: str = "api", labels: Obj | None = None) -> Obj:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "api", "image": "api:1"}]},
            },
        },
    }


def failure(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


API_DETAILS = {"name": "api", "group": "apps", "kind": "deployments"}
NOT_FOUND_PATH = failure(404, "NotFound", "the server could not find the requested resource", {})
INVALID_REQUEST = failure(
    422, "Invalid", "the server rejected our request due to an error in our request", {}
)
JSON_PATCH = "application/json-patch+json"

CASES: list[tuple[str, str, str, Any, str | None, int, Obj]] = [
    # id, method, path, body (bytes/str sent as is, else JSON), content type, code, Status
    (
        "bad-continue-token",
        "GET",
        "/api/v1/namespaces/default/configmaps?limit=1&continue=bm90LWpzb24",
        None,
        None,
        400,
        failure(
            400,
            "BadRequest",
            "continue key is not valid: the token is not a base64 JSON continue key",
        ),
    ),
    (
        "malformed-json",
        "POST",
        DEPLOY,
        b'{"apiVersion": "apps/v1", kind}',
        "application/json",
        400,
        failure(
            400,
            "BadRequest",
            "the object provided is unrecognized (must be of type Deployment): couldn't "
            "get version/kind; json parse error: invalid character 'k' looking for "
            'beginning of object key string ({"apiVersion": "apps/v1", kind ...)',
        ),
    ),
    (
        "not-json-at-all",
        "POST",
        DEPLOY,
        b"nope",
        "application/json",
        400,
        failure(
            400,
            "BadRequest",
            "the object provided is unrecognized (must be of type Deployment): couldn't "
            "get version/kind; json parse error: invalid character 'o' in literal null "
            "(expecting 'u') (6e6f7065)",
        ),
    ),
    (
        "empty-body",
        "POST",
        DEPLOY,
        b"",
        "application/json",
        400,
        failure(
            400,
            "BadRequest",
            "the object provided is unrecognized (must be of type Deployment): couldn't "
            "get version/kind; json parse error: unexpected end of JSON input (<empty>)",
        ),
    ),
    (
        "unknown-resource",
        "GET",
        "/apis/apps/v1/namespaces/default/frobs",
        None,
        None,
        404,
        NOT_FOUND_PATH,
    ),
    ("unknown-group", "GET", "/apis/example.com/v1/widgets", None, None, 404, NOT_FOUND_PATH),
    ("unknown-subresource", "GET", API + "/nonsense", None, None, 404, NOT_FOUND_PATH),
    (
        "missing-object",
        "GET",
        DEPLOY + "/web",
        None,
        None,
        404,
        failure(
            404,
            "NotFound",
            'deployments.apps "web" not found',
            {"name": "web", "group": "apps", "kind": "deployments"},
        ),
    ),
    (
        "json-patch-test-fails",
        "PATCH",
        API,
        [
            {"op": "test", "path": "/spec/replicas", "value": 7},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
        ],
        JSON_PATCH,
        422,
        INVALID_REQUEST,
    ),
    (
        "json-patch-path-missing",
        "PATCH",
        API,
        [{"op": "replace", "path": "/spec/nothing/here", "value": 3}],
        JSON_PATCH,
        422,
        INVALID_REQUEST,
    ),
    (
        "json-patch-remove-missing",
        "PATCH",
        API,
        [{"op": "remove", "path": "/metadata/annotations/x"}],
        JSON_PATCH,
        422,
        INVALID_REQUEST,
    ),
    (
        "json-patch-malformed",
        "PATCH",
        API,
        b'[{"op": "add",',
        JSON_PATCH,
        400,
        failure(400, "BadRequest", "unexpected end of JSON input"),
    ),
    (
        "strategic-merge-malformed",
        "PATCH",
        API,
        b"{x}",
        "application/strategic-merge-patch+json",
        400,
        failure(
            400, "BadRequest", "invalid character 'x' looking for beginning of object key string"
        ),
    ),
    (
        "stale-resource-version",
        "PUT",
        API,
        "STALE",
        "application/json",
        409,
        failure(
            409,
            "Conflict",
            'Operation cannot be fulfilled on deployments.apps "api": the object has been '
            "modified; please apply your changes to the latest version and try again",
            API_DETAILS,
        ),
    ),
    (
        "create-existing",
        "POST",
        DEPLOY,
        deployment(),
        "application/json",
        409,
        failure(409, "AlreadyExists", 'deployments.apps "api" already exists', API_DETAILS),
    ),
    (
        "apply-patch-unsupported",
        "PATCH",
        API,
        "{}",
        "application/apply-patch+yaml",
        415,
        failure(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types "
            "include: application/json-patch+json, application/merge-patch+json, "
            "application/strategic-merge-patch+json",
        ),
    ),
    (
        "patch-as-plain-json",
        "PATCH",
        API,
        {"spec": {}},
        "application/json",
        415,
        failure(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types "
            "include: application/json-patch+json, application/merge-patch+json, "
            "application/strategic-merge-patch+json",
        ),
    ),
    (
        "post-to-an-object",
        "POST",
        API,
        deployment(),
        "application/json",
        405,
        failure(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            {},
        ),
    ),
    (
        "get-an-access-review",
        "GET",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        None,
        None,
        405,
        failure(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            {},
        ),
    ),
    (
        "missing-namespace",
        "POST",
        "/apis/apps/v1/namespaces/nope/deployments",
        deployment(),
        "application/json",
        404,
        failure(
            404, "NotFound", 'namespaces "nope" not found', {"name": "nope", "kind": "namespaces"}
        ),
    ),
    (
        "selector-does-not-match",
        "POST",
        DEPLOY,
        deployment("web", {"app": "other"}),
        "application/json",
        422,
        failure(
            422,
            "Invalid",
            'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid '
            'value: map[string]string{"app":"other"}: `selector` does not match template '
            "`labels`",
            {
                "name": "web",
                "group": "apps",
                "kind": "Deployment",
                "causes": [
                    {
                        "reason": "FieldValueInvalid",
                        "message": 'Invalid value: map[string]string{"app":"other"}: `selector` '
                        "does not match template `labels`",
                        "field": "spec.template.metadata.labels",
                    }
                ],
            },
        ),
    ),
    (
        "env-value-not-a-string",
        "POST",
        DEPLOY,
        {
            **deployment("web"),
            "spec": {
                **deployment("web")["spec"],
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {"name": "api", "image": "api:1", "env": [{"name": "N", "value": 4}]}
                        ]
                    },
                },
            },
        },
        "application/json",
        400,
        failure(
            400,
            "BadRequest",
            'Deployment in version "v1" cannot be handled as a Deployment: json: cannot '
            "unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value "
            "of type string",
        ),
    ),
    (
        "label-not-a-string",
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "c", "labels": {"enabled": True}}},
        "application/json",
        400,
        failure(
            400,
            "BadRequest",
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
            "bool into Go struct field ObjectMeta.metadata.labels of type string",
        ),
    ),
    (
        "name-mismatch",
        "PUT",
        API,
        deployment("web"),
        "application/json",
        400,
        failure(
            400,
            "BadRequest",
            "the name of the object (web) does not match the name on the URL (api)",
        ),
    ),
    ("bad-label-selector", "GET", DEPLOY + "?labelSelector=a%20b%3Dc", None, None, 400, None),  # type: ignore[list-item]
    (
        "bad-field-selector",
        "GET",
        DEPLOY + "?fieldSelector=spec.replicas%3D1",
        None,
        None,
        400,
        failure(400, "BadRequest", "field label not supported: spec.replicas"),
    ),
]


def snapshot(cluster: SandboxCluster) -> Any:
    return (
        cluster.store.resource_version,
        cluster.store.list(DEPLOYMENTS),
        cluster.store.list(CONFIGMAPS),
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "code", "status"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_error_answers_match_the_real_apiserver(
    sandbox_cluster: SandboxCluster,
    method: str,
    path: str,
    body: Any,
    content_type: str | None,
    code: int,
    status: Obj | None,
) -> None:
    sandbox_cluster.store.create(DEPLOYMENTS, deployment(), namespace="default")
    if body == "STALE":
        body = sandbox_cluster.store.get(DEPLOYMENTS, "default", "api")
        sandbox_cluster.store.mutate(
            DEPLOYMENTS, "default", "api", lambda d: d["spec"].update(replicas=2)
        )
        body["spec"]["replicas"] = 5
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    headers = {"Content-Type": content_type} if content_type else {}
    before = snapshot(sandbox_cluster)
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, sandbox_cluster.url + path, data=data, headers=headers) as response,
    ):
        answer = await response.json()
        assert response.status == code
        assert response.content_type == "application/json"
    if status is None:
        assert (answer["kind"], answer["code"], answer["reason"]) == ("Status", code, "BadRequest")
    else:
        assert answer == status
    assert snapshot(sandbox_cluster) == before


async def test_watch_from_a_too_old_resource_version_sends_an_error_event() -> None:
    async with SandboxCluster(history_limit=3, controllers=False) as cluster:
        first = cluster.store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
        for i in range(5):
            cluster.store.mutate(
                CONFIGMAPS, "default", "a", lambda o, i=i: o.update(data={"i": str(i)})
            )
        rv = first["metadata"]["resourceVersion"]
        url = f"{cluster.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            lines = (await response.read()).decode().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {rv} (")


async def test_denied_requests_are_forbidden_and_reviews_say_so(
    sandbox_cluster: SandboxCluster,
) -> None:
    sandbox_cluster.store.create(DEPLOYMENTS, deployment(), namespace="default")
    sandbox_cluster.deny("patch", "deployments", "default")
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "verb": "patch",
                "group": "apps",
                "resource": "deployments",
                "namespace": "default",
            }
        },
    }
    async with aiohttp.ClientSession() as session:
        async with session.patch(
            sandbox_cluster.url + API,
            data="{}",
            headers={"Content-Type": "application/merge-patch+json"},
        ) as response:
            assert response.status == 403
            answer = await response.json()
        assert answer == failure(
            403,
            "Forbidden",
            'deployments.apps "api" is forbidden: User "sandbox-admin" cannot patch resource '
            '"deployments" in API group "apps" in the namespace "default"',
            API_DETAILS,
        )
        async with session.get(sandbox_cluster.url + API) as response:
            assert response.status == 200
        url = sandbox_cluster.url + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        async with session.post(url, json=review) as response:
            assert response.status == 201
            assert (await response.json())["status"]["allowed"] is False
        review["spec"]["resourceAttributes"]["namespace"] = "prod"
        async with session.post(url, json=review) as response:
            assert (await response.json())["status"]["allowed"] is True


def _pb_field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (numbers and sizes below 128)."""
    return bytes([number << 3 | 2, len(payload)]) + payload


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        # a ConfigMap whose field 9 (unknown to the decoder) is set: refused, not dropped
        (
            _pb_field(1, _pb_field(1, b"v1") + _pb_field(2, b"ConfigMap"))
            + _pb_field(2, _pb_field(1, _pb_field(1, b"cm")) + _pb_field(9, b"x")),
            "field 9 of ConfigMap",
        ),
        # a kind the decoder has no table for
        (
            _pb_field(1, _pb_field(1, b"v1") + _pb_field(2, b"Endpoints")) + _pb_field(2, b""),
            "kind Endpoints in v1",
        ),
    ],
    ids=["unknown-field", "unknown-kind"],
)
async def test_protobuf_bodies_the_sandbox_cannot_decode_are_415(
    sandbox_cluster: SandboxCluster, raw: bytes, fragment: str
) -> None:
    before = snapshot(sandbox_cluster)
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    url = sandbox_cluster.url + "/api/v1/namespaces/default/configmaps"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=b"k8s\x00" + raw, headers=headers) as response,
    ):
        assert response.status == 415
        answer = await response.json()
    assert answer["reason"] == "UnsupportedMediaType"
    assert fragment in answer["message"]
    assert snapshot(sandbox_cluster) == before
