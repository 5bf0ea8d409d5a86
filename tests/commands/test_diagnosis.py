"""`commands.diagnosis`: realistic kubelet/containerd texts → `Cause`; pod JSON and
events → the most telling `Finding` (fatal or not); causes explained with a next step
(the exact `kubectl create secret docker-registry …` for rejected pull credentials).
"""

from __future__ import annotations

from typing import Any

import pytest

from commands.diagnosis import (
    Cause,
    ContainerObservation,
    EventObservation,
    Finding,
    PodObservation,
    classify_message,
    diagnose,
    explain,
    redact,
)

IMG = "gitea.example.com/admin/honeydue-api:237c6b9"
RESOLVE = f'failed to pull and unpack image "{IMG}": failed to resolve reference "{IMG}"'
TOKEN_URL = (
    "https://gitea.example.com/v2/token?scope=repository%3Aadmin%2Fhoneydue-api%3Apull"
    "&service=container_registry"
)


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        (f'Failed to pull image "{IMG}": rpc error: code = NotFound desc = {RESOLVE}: {IMG}: '
         "not found", Cause.TAG_NOT_FOUND),
        (f'Failed to pull image "{IMG}": rpc error: code = Unknown desc = {RESOLVE}: failed to '
         f"authorize: failed to fetch oauth token: unexpected status from GET request to "
         f"{TOKEN_URL}: 401 Unauthorized", Cause.PULL_AUTH),
        (f'Failed to pull image "{IMG}": rpc error: code = Unknown desc = {RESOLVE}: unexpected '
         "status from HEAD request to https://gitea.example.com/v2/admin/honeydue-api/manifests/"
         "237c6b9: 403 Forbidden", Cause.PULL_AUTH),
        (f'Failed to pull image "{IMG}": rpc error: code = NotFound desc = failed to pull and '
         f'unpack image "{IMG}": no match for platform in manifest: not found',
         Cause.PLATFORM_MISMATCH),
        (f'Failed to pull image "{IMG}": rpc error: code = Unavailable desc = {RESOLVE}: failed '
         'to do request: Head "https://gitea.example.com/v2/admin/honeydue-api/manifests/237c6b9":'
         " dial tcp 10.0.0.5:443: connect: connection refused", Cause.REGISTRY_UNREACHABLE),
        (f"{RESOLVE}: failed to do request: dial tcp 10.0.0.5:443: i/o timeout",
         Cause.REGISTRY_UNREACHABLE),
        (f"{RESOLVE}: failed to do request: dial tcp: lookup gitea.example.com on "
         "10.96.0.10:53: no such host", Cause.REGISTRY_UNREACHABLE),
        ('Failed to apply default image tag "gitea.example.com/admin/Honeydue": couldn\'t parse '
         'image reference "gitea.example.com/admin/Honeydue": invalid reference format: '
         "repository name must be lowercase", Cause.INVALID_IMAGE),
        ('Error response from daemon: pull access denied for honeydue-api, repository does not '
         "exist or may require 'docker login'", Cause.PULL_AUTH),
        ('exec /usr/local/bin/api: exec format error', Cause.PLATFORM_MISMATCH),
        (f'Back-off pulling image "{IMG}"', Cause.UNKNOWN),
        ("", Cause.UNKNOWN),
    ],
)  # fmt: skip
def test_classify_message(message: str, cause: Cause) -> None:
    assert classify_message(message) is cause


def waiting(
    why: str, message: str = "", restarts: int = 0, last: dict[str, Any] | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": "api",
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": why, "message": message}},
    }
    if last:
        status["lastState"] = {"terminated": last}
    return status


def pod(*statuses: dict[str, Any], unschedulable: str | None = None) -> PodObservation:
    conditions = []
    if unschedulable:
        conditions.append(
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": unschedulable}
        )  # fmt: skip
    return PodObservation.from_dict(
        {
            "metadata": {"name": "api-6d4f-x1"},
            "status": {"conditions": conditions, "containerStatuses": list(statuses)},
        }
    )


PULL_401 = f"{RESOLVE}: failed to authorize: failed to fetch oauth token: 401 Unauthorized"
EXEC_FORMAT = 'exec: "/app/api": exec format error'
RUNNING_NOT_READY = {"name": "api", "ready": False, "restartCount": 0, "state": {"running": {}}}


@pytest.mark.parametrize(
    ("observed", "events", "cause", "fatal"),
    [
        (pod(waiting("ErrImagePull", f"{RESOLVE}: {IMG}: not found")), [], Cause.TAG_NOT_FOUND,
         True),
        (pod(waiting("ImagePullBackOff", f'Back-off pulling image "{IMG}"')),
         [EventObservation("Pulling", f'Pulling image "{IMG}"', "Normal", "api-6d4f-x1"),
          EventObservation("Failed", f'Failed to pull image "{IMG}": {PULL_401}', "Warning",
                           "api-6d4f-x1")],
         Cause.PULL_AUTH, True),
        (pod(waiting("ImagePullBackOff", f'Back-off pulling image "{IMG}"')), [], Cause.UNKNOWN,
         False),
        (pod(waiting("ErrImagePull", f"{RESOLVE}: dial tcp: i/o timeout")), [],
         Cause.REGISTRY_UNREACHABLE, False),
        (pod(waiting("ImagePullBackOff", f'Back-off pulling image "{IMG}"')),
         [EventObservation("Failed", f'Failed to pull image "{IMG}": {RESOLVE}: dial tcp '
                           "10.0.0.5:443: connect: connection refused", "Warning", "api-6d4f-x1")],
         Cause.REGISTRY_UNREACHABLE, True),
        (pod(waiting("InvalidImageName", "couldn't parse image reference")), [],
         Cause.INVALID_IMAGE, True),
        (pod(waiting("CreateContainerConfigError", 'secret "honeydue-env" not found')), [],
         Cause.CONFIG_ERROR, True),
        (pod(waiting("CrashLoopBackOff", "back-off 10s restarting failed container", 1,
                     last={"reason": "Error", "exitCode": 1})), [], Cause.CRASH_LOOP, False),
        (pod(waiting("CrashLoopBackOff", "back-off 20s restarting failed container", 2,
                     last={"reason": "Error", "exitCode": 1})), [], Cause.CRASH_LOOP, True),
        (pod(waiting("CrashLoopBackOff", "back-off", 1,
                     last={"reason": "StartError", "exitCode": 128, "message": EXEC_FORMAT})), [],
         Cause.PLATFORM_MISMATCH, True),
        (pod(unschedulable="0/3 nodes are available: 3 Insufficient memory."), [],
         Cause.UNSCHEDULABLE, False),
        (pod(RUNNING_NOT_READY), [], Cause.NOT_READY, False),
        (pod(waiting("ContainerCreating")), [], None, None),
        (pod({"name": "api", "ready": True, "restartCount": 0, "state": {"running": {}}}), [],
         None, None),
    ],
)  # fmt: skip
def test_diagnose(
    observed: PodObservation,
    events: list[EventObservation],
    cause: Cause | None,
    fatal: bool | None,
) -> None:
    finding = diagnose(pods=[observed], events=events, crashloop_restarts=2)
    if cause is None:
        assert finding is None
    else:
        assert finding is not None
        assert (finding.cause, finding.is_fatal) == (cause, fatal)
        assert finding.pod == "api-6d4f-x1"


def test_fatal_findings_win() -> None:
    slow = pod(RUNNING_NOT_READY)
    broken = pod(
        waiting("ErrImagePull", f"{RESOLVE}: no match for platform in manifest: not found")
    )
    finding = diagnose(pods=[slow, broken])
    assert finding is not None
    assert finding.cause is Cause.PLATFORM_MISMATCH


def test_event_from_dict() -> None:
    event = EventObservation.from_dict(
        {
            "reason": "Failed",
            "type": "Warning",
            "message": f'Failed to pull image "{IMG}": {PULL_401}',
            "involvedObject": {"kind": "Pod", "name": "api-6d4f-x1"},
        }
    )
    assert event.pod == "api-6d4f-x1"
    assert classify_message(event.message) is Cause.PULL_AUTH


def test_container_from_dict_reads_last_state() -> None:
    observed = ContainerObservation.from_dict(
        waiting(
            "CrashLoopBackOff", "", 3, {"reason": "Error", "exitCode": 137, "message": "OOMKilled"}
        )
    )
    assert (observed.restart_count, observed.last_exit_code) == (3, 137)
    assert observed.last_terminated_message == "OOMKilled"


def test_redact() -> None:
    assert redact("GET https://x/v2/token?access_token=abc.def&scope=x failed") == (
        "GET https://x/v2/token?access_token=<redacted>&scope=x failed"
    )
    assert len(redact("x" * 1000)) == 300


PINNED = "gitea.example.com/admin/honeydue-api:237c6b9@sha256:" + "a" * 64


def test_explain_pull_auth_gives_the_exact_command() -> None:
    finding = Finding(Cause.PULL_AUTH, True, "401 Unauthorized", "api-6d4f-x1", "api")
    explanation = explain(
        finding, image=PINNED, namespace="honeydue", pull_secret="gitea-credentials"
    )
    assert explanation.sentence == (
        f"`gitea.example.com` refused the cluster's pull credentials for `{PINNED}` "
        "(401 Unauthorized)."
    )
    assert (
        "`kubectl create secret docker-registry gitea-credentials "
        "--docker-server=gitea.example.com --docker-username=<user> "
        "--docker-password=<new token> -n honeydue --dry-run=client -o yaml | kubectl apply -f -`"
    ) in explanation.next_step
    assert "restart the pods that are in back-off: `/deploy restart" in explanation.next_step


@pytest.mark.parametrize(
    ("cause", "sentence", "step"),
    [
        (Cause.TAG_NOT_FOUND, "can't find", "`/deploy tags SERVICE`"),
        (Cause.PLATFORM_MISMATCH, "isn't built for the nodes' platform `linux/amd64`",
         "--platform linux/amd64"),
        (Cause.REGISTRY_UNREACHABLE, "can't reach `gitea.example.com`", "DNS"),
        (Cause.INVALID_IMAGE, "is invalid", "`image`"),
        (Cause.CRASH_LOOP, "keeps crashing", "`kubectl logs -n honeydue api-6d4f-x1 --previous`"),
        (Cause.CONFIG_ERROR, "can't create the container", "missing Secret or ConfigMap"),
        (Cause.UNSCHEDULABLE, "can't place", "capacity"),
        (Cause.NOT_READY, "isn't Ready", "`kubectl describe pod -n honeydue api-6d4f-x1`"),
        (Cause.PROGRESS_DEADLINE, "deadline", "kubectl rollout status"),
        (Cause.UNKNOWN, "aren't becoming available", "events"),
    ],
)  # fmt: skip
def test_explain_every_cause(cause: Cause, sentence: str, step: str) -> None:
    finding = Finding(cause, False, "", "api-6d4f-x1", "api")
    explanation = explain(finding, image=PINNED, namespace="honeydue", pull_secret=None)
    assert sentence in explanation.sentence
    assert step in explanation.next_step
