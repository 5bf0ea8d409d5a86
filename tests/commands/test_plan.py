"""`commands.plan`: deploy patches (pinned image, annotations, patch body), every
refusal (image problem, nothing to do, locked, missing/paused Deployment, replica
limit), approvals and windows, rollback targets (previous, tag, revision), and
restarts (`kubectl rollout restart`'s annotation, same image, refusals).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from commands.config import DeckhandConfig
from commands.plan import (
    RESTARTED_AT,
    DeploymentState,
    DeployPlan,
    ImageCheck,
    ImageProblem,
    LockInfo,
    Revision,
    RollbackPlan,
    peak_pods,
    plan_deploy,
    plan_restart,
    plan_rollback,
)
from commands.requests import Refusal, RefusalCode
from commands.validate import ValidatedDeploy, ValidatedRestart, ValidatedRollback

EXAMPLE = Path(__file__).parents[2] / "examples" / "deckhand.yaml"
CONFIG = DeckhandConfig.model_validate(yaml.safe_load(EXAMPLE.read_text()))
REPO = "gitea.example.com/admin/honeydue-"
OLD = "sha256:" + "0" * 64
NEW = "sha256:" + "1" * 64
AT = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)


def state(
    name: str, *, digest: str = OLD, tag: str = "1a2b3c4", **changes: object
) -> DeploymentState:
    fields: dict[str, object] = {
        "namespace": "honeydue",
        "name": name,
        "container": name,
        "image": f"{REPO}{name}:{tag}@{digest}",
        "replicas": 1 if name == "worker" else 3,
        "revision": 4,
        "strategy": "Recreate" if name == "worker" else "RollingUpdate",
        "max_surge": "25%",
        "containers": (name,),
    }
    fields.update(changes)
    return DeploymentState(**fields)  # type: ignore[arg-type]


def check(name: str, digest: str = NEW) -> ImageCheck:
    return ImageCheck(f"{REPO}{name}:237c6b8@{digest}", digest, "linux/amd64")


CURRENT = {n: state(n) for n in ("api", "worker", "admin")}
VERDICTS: dict[str, ImageCheck | ImageProblem] = {n: check(n) for n in CURRENT}


def deploy(
    services: tuple[str, ...] = ("api",),
    *,
    env: str = "production",
    current: dict[str, DeploymentState] | None = None,
    verdicts: dict[str, ImageCheck | ImageProblem] | None = None,
    locks: dict[tuple[str, str], LockInfo] | None = None,
    user: str = "U0ALICE001",
    at: datetime = AT,
    config: DeckhandConfig = CONFIG,
) -> DeployPlan | Refusal:
    return plan_deploy(
        request=ValidatedDeploy(services, env, "237c6b8", "fixes login"),
        config=config,
        current=CURRENT if current is None else current,
        verdicts=VERDICTS if verdicts is None else verdicts,
        locks=locks or {},
        requested_by=user,
        deploy_id="d-7f3a2c",
        requested_at=at,
    )


def test_deploy_plan() -> None:
    plan = deploy(("api", "worker"))
    assert isinstance(plan, DeployPlan)
    assert (plan.env, plan.namespace, plan.tag) == ("production", "honeydue", "237c6b8")
    assert plan.approvals_required == 1
    assert plan.auto_rollback is True
    assert [s.service for s in plan.services] == ["api", "worker"]
    api = plan.patches[0]
    assert api.image == f"{REPO}api:237c6b8@{NEW}"
    assert api.body() == {
        "metadata": {
            "annotations": {
                "kubernetes.io/change-cause": "deckhand: U0ALICE001 deployed 237c6b8 (fixes login)",
                "deckhand.dev/requested-by": "U0ALICE001",
                "deckhand.dev/tag": "237c6b8",
                "deckhand.dev/deploy-id": "d-7f3a2c",
                "deckhand.dev/requested-at": "2026-11-26T10:30:00Z",
            }
        },
        "spec": {"template": {"spec": {"containers": [{"name": "api", "image": api.image}]}}},
    }


def test_staging_needs_no_approval_and_unpinned_images() -> None:
    policy = CONFIG.tag_policy.model_copy(update={"pin_digest": False})
    plan = deploy(env="staging", config=CONFIG.model_copy(update={"tag_policy": policy}))
    assert isinstance(plan, DeployPlan)
    assert plan.approvals_required == 0
    assert plan.patches[0].image == f"{REPO}api:237c6b8"
    unpinned = {"api": state("api", image=f"{REPO}api:237c6b8")}
    same = deploy(env="staging", config=CONFIG.model_copy(update={"tag_policy": policy}),
                  current=unpinned)  # fmt: skip
    assert isinstance(same, Refusal)
    assert same.code is RefusalCode.NOTHING_TO_DO


def test_unchanged_services_are_left_alone() -> None:
    current = {**CURRENT, "worker": state("worker", digest=NEW)}
    plan = deploy(("api", "worker"), current=current)
    assert isinstance(plan, DeployPlan)
    assert [s.service for s in plan.services] == ["api"]
    assert plan.unchanged == ("worker",)


def _refusal(result: DeployPlan | RollbackPlan | Refusal) -> Refusal:
    assert isinstance(result, Refusal), result
    return result


LOCK = LockInfo("U0BOB00001", AT - timedelta(minutes=5), "db migration", AT + timedelta(hours=1))


@pytest.mark.parametrize(
    ("kwargs", "code", "says"),
    [
        ({"verdicts": {"api": ImageProblem("no tag `237c6b8` in `admin/honeydue-api`")}},
         RefusalCode.IMAGE_PROBLEM, "Not deploying `api`: no tag `237c6b8` in `admin/honeydue-"),
        ({"verdicts": {}}, RefusalCode.IMAGE_PROBLEM, "wasn't checked in the registry"),
        ({"current": {"api": state("api", digest=NEW)}}, RefusalCode.NOTHING_TO_DO,
         "Nothing to do: `api` already runs `237c6b8` in `production`."),
        ({"locks": {("api", "production"): LOCK}}, RefusalCode.LOCKED,
         "`api` is locked in `production` by <@U0BOB00001> since 2026-11-26 10:25 UTC: db "
         "migration. Ask them, or `/deploy unlock api production` when it's safe."),
        ({"current": {}}, RefusalCode.DEPLOYMENT_MISSING,
         "There is no Deployment `api` in namespace `honeydue` for `api`"),
        ({"current": {"api": state("api", image=None, containers=("app", "sidecar"))}},
         RefusalCode.DEPLOYMENT_MISSING, "has no container `api` (it has `app` or `sidecar`)"),
        ({"current": {"api": state("api", paused=True)}}, RefusalCode.PAUSED,
         "`kubectl rollout resume -n honeydue deployment/api` first"),
    ],
)  # fmt: skip
def test_deploy_refusals(kwargs: dict[str, object], code: RefusalCode, says: str) -> None:
    refusal = _refusal(deploy(**kwargs))  # type: ignore[arg-type]
    assert refusal.code is code
    assert says in refusal.text


@pytest.mark.parametrize(
    ("worker", "says"),
    [
        (state("worker", strategy="RollingUpdate", max_surge="25%"),
         "would briefly run 2: set its `strategy.type: Recreate` (or `rollingUpdate.maxSurge: 0`)"),
        (state("worker", strategy="RollingUpdate", max_surge=1), "would briefly run 2"),
        (state("worker", replicas=2), "asks for 2: scale it down first"),
    ],
)  # fmt: skip
def test_singleton_never_runs_two(worker: DeploymentState, says: str) -> None:
    refusal = _refusal(deploy(("worker",), current={"worker": worker}))
    assert refusal.code is RefusalCode.REPLICA_LIMIT
    assert says in refusal.text


def test_singleton_rolling_update_without_surge_is_fine() -> None:
    worker = state("worker", strategy="RollingUpdate", max_surge=0)
    assert isinstance(deploy(("worker",), current={"worker": worker}), DeployPlan)


def test_every_problem_in_one_refusal() -> None:
    refusal = _refusal(
        deploy(
            ("api", "worker"),
            current={"worker": state("worker", paused=True)},
            locks={("worker", "production"): LOCK},
        )
    )
    assert refusal.code is RefusalCode.DEPLOYMENT_MISSING  # the first problem found
    assert len(refusal.text.splitlines()) == 3  # api missing; worker locked and paused


@pytest.mark.parametrize(
    ("lock", "user", "refused"),
    [(LOCK, "U0ALICE001", True), (LOCK, "U0BOB00001", False),
     (LockInfo("U0BOB00001", AT - timedelta(hours=2), None, AT - timedelta(hours=1)),
      "U0ALICE001", False)],
)  # fmt: skip
def test_locks(lock: LockInfo, user: str, refused: bool) -> None:
    result = deploy(locks={("api", "production"): lock}, user=user)
    assert isinstance(result, Refusal) is refused


@pytest.mark.parametrize(
    ("replicas", "strategy", "surge", "peak"),
    [(3, "RollingUpdate", "25%", 4), (4, "RollingUpdate", "25%", 5), (1, "RollingUpdate", "0%", 1),
     (10, "RollingUpdate", 2, 12), (3, "Recreate", "25%", 3), (0, "RollingUpdate", "25%", 0),
     (1, "RollingUpdate", "1", 2), (1, "RollingUpdate", "x", 2)],
)  # fmt: skip
def test_peak_pods(replicas: int, strategy: str, surge: int | str, peak: int) -> None:
    assert peak_pods(state("api", replicas=replicas, strategy=strategy, max_surge=surge)) == peak


HISTORY = (
    Revision(1, f"{REPO}api:aaaaaaa@{OLD}"),
    Revision(2, f"{REPO}api:bbbbbbb@{NEW}"),
    Revision(3, f"{REPO}api:ccccccc@sha256:{'3' * 64}"),
    Revision(4, f"{REPO}api:1a2b3c4@{OLD}"),
)


def rollback(
    to: str | None = None,
    revision: int | None = None,
    history: tuple[Revision, ...] = HISTORY,
    verdict: ImageCheck | ImageProblem | None = None,
) -> RollbackPlan | Refusal:
    return plan_rollback(
        request=ValidatedRollback("api", "production", to, revision, "bad build"),
        config=CONFIG,
        current=CURRENT,
        history=history,
        locks={},
        requested_by="U0ALICE001",
        deploy_id="d-1",
        requested_at=AT,
        verdict=verdict,
    )


@pytest.mark.parametrize(
    ("to", "revision", "expected"), [(None, None, 3), ("bbbbbbb", None, 2), (None, 1, 1)]
)
def test_rollback_targets(to: str | None, revision: int | None, expected: int) -> None:
    plan = rollback(to, revision)
    assert isinstance(plan, RollbackPlan)
    assert plan.to.number == expected
    assert plan.from_revision == 4
    assert plan.patches[0].image == HISTORY[expected - 1].image
    annotations = dict(plan.patches[0].annotations)
    assert annotations["kubernetes.io/change-cause"] == (
        f"deckhand: U0ALICE001 rolled back to {plan.to.tag} (revision {expected}) (bad build)"
    )
    assert annotations["deckhand.dev/tag"] == plan.to.tag


@pytest.mark.parametrize(
    ("to", "revision", "history", "code", "says"),
    [
        (None, None, (), RefusalCode.NO_ROLLBACK_TARGET, "has no earlier revision"),
        (None, None, HISTORY[3:], RefusalCode.NO_ROLLBACK_TARGET, "has no earlier revision"),
        ("deadbee", None, HISTORY, RefusalCode.NO_ROLLBACK_TARGET,
         "No revision of `api` ran `deadbee`. Revisions kept: #4 (1a2b3c4), #3 (ccccccc)"),
        (None, 9, HISTORY, RefusalCode.NO_ROLLBACK_TARGET, "ran revision #9"),
        (None, 4, HISTORY, RefusalCode.NOTHING_TO_DO, "already runs revision #4"),
        ("1a2b3c4", None, HISTORY, RefusalCode.NOTHING_TO_DO, "already runs `1a2b3c4`"),
    ],
)  # fmt: skip
def test_rollback_refusals(
    to: str | None,
    revision: int | None,
    history: tuple[Revision, ...],
    code: RefusalCode,
    says: str,
) -> None:
    refusal = _refusal(rollback(to, revision, history))
    assert refusal.code is code
    assert says in refusal.text


def test_rollback_to_an_image_the_registry_lost() -> None:
    refusal = _refusal(rollback(verdict=ImageProblem("the tag was deleted")))
    assert refusal.code is RefusalCode.IMAGE_PROBLEM


def test_restart_plan_keeps_the_image_and_sets_restarted_at() -> None:
    plan = plan_restart(
        request=ValidatedRestart("api", "production", "pull secret renewed"),
        config=CONFIG,
        current=CURRENT,
        locks={},
        requested_by="U1",
        deploy_id="d-1",
        requested_at=AT,
    )
    assert isinstance(plan, DeployPlan), plan
    assert plan.kind == "restart"
    assert plan.approvals_required == 0
    assert plan.tag == "1a2b3c4"
    (patch,) = plan.patches
    assert patch.image == CURRENT["api"].image
    body = patch.body()
    assert body["spec"]["template"]["metadata"]["annotations"] == {
        RESTARTED_AT: "2026-11-26T10:30:00Z"
    }
    assert body["spec"]["template"]["spec"]["containers"] == [
        {"name": "api", "image": CURRENT["api"].image}
    ]
    assert (
        "restarted the pods (pull secret renewed)"
        in dict(patch.annotations)["kubernetes.io/change-cause"]
    )


@pytest.mark.parametrize(
    ("current", "locks", "code"),
    [
        ({}, {}, RefusalCode.DEPLOYMENT_MISSING),
        ({**CURRENT, "api": state("api", paused=True)}, {}, RefusalCode.PAUSED),
        (CURRENT, {("api", "production"): LockInfo("U9", AT, "incident")}, RefusalCode.LOCKED),
    ],
)
def test_restart_refusals(
    current: dict[str, DeploymentState],
    locks: dict[tuple[str, str], LockInfo],
    code: RefusalCode,
) -> None:
    refused = plan_restart(
        request=ValidatedRestart("api", "production"),
        config=CONFIG,
        current=current,
        locks=locks,
        requested_by="U1",
        deploy_id="d-1",
        requested_at=AT,
    )
    assert isinstance(refused, Refusal), refused
    assert refused.code is code, refused
