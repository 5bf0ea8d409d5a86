"""Every deploy, recorded in the cluster: one ConfigMap per deploy in Deckhand's namespace.

A record survives Deckhand restarts and is what `history` and resume read:

    ConfigMap deckhand-deploy-<id>
      labels:  deckhand.dev/record=deploy, deckhand.dev/env=prod,
               deckhand.dev/phase=rolling_out, svc.deckhand.dev/<service>=true (each target)
      data:    id, who, when, env, namespace, tag, reason, phase, result, cause,
               duration_s, slack_channel, slack_ts, reported, rolled_back,
               targets (JSON: service, deployment, container, image, digest, previous_image)

Changes are compare-and-swap on the ConfigMap's resourceVersion (`bot.state`).
`claim_report` flips `reported` false→true atomically: the one caller that wins it
sends the final report, which makes the report exactly-once across restarts. The
winner's `claimant` token is kept (`reported_by`), so a claim retried after its answer
was lost (the API went away mid-write) still wins: retries are idempotent.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from bot.clock import parse_time
from bot.kube.client import KubeClient
from bot.kube.errors import NotFound
from bot.kube.kinds import KubeObject
from bot.state import Change, Codec, ConfigMapStore

_A = "deckhand.dev/"
_SVC = "svc.deckhand.dev/"


class RecordPhase(StrEnum):
    ROLLING_OUT = "rolling_out"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    """The rollout's deadline passed while the cluster could not be reached."""


@dataclass(frozen=True)
class TargetRecord:
    """One Deployment container a deploy changed."""

    service: str
    deployment: str
    container: str
    image: str
    """The image set: pinned to its digest (`repo:tag@sha256:…`)."""
    digest: str = ""
    previous_image: str = ""


@dataclass(frozen=True)
class DeployRecord:
    id: str
    who: str
    when: datetime
    env: str
    namespace: str
    tag: str
    targets: tuple[TargetRecord, ...]
    reason: str = ""
    phase: RecordPhase = RecordPhase.ROLLING_OUT
    result: str = ""
    """One line: `succeeded`, `failed: <cause>`, `failed, rolled back to <image>`."""
    cause: str = ""
    duration_s: float | None = None
    slack_channel: str = ""
    slack_ts: str = ""
    reported: bool = False
    reported_by: str = ""
    """The claimant token of the `claim_report` that won ('' when not reported)."""
    rolled_back: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(t.service for t in self.targets)


def new_deploy_id() -> str:
    """`d-7f3a2c`: Deckhand's one deploy id (records, approval requests, `/deploy cancel
    d-7f3a2c`): short, typeable, unique enough per team."""
    return "d-" + secrets.token_hex(3)


def record_name(deploy_id: str) -> str:
    return f"deckhand-deploy-{deploy_id}".lower()[:253]


def _to_data(record: DeployRecord) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and data of the ConfigMap that stores `record` (pure)."""
    labels = {f"{_A}record": "deploy", f"{_A}env": record.env, f"{_A}phase": record.phase.value}
    labels.update({f"{_SVC}{t.service}": "true" for t in record.targets})
    return labels, {
        "id": record.id,
        "who": record.who,
        "when": record.when.isoformat(),
        "env": record.env,
        "namespace": record.namespace,
        "tag": record.tag,
        "reason": record.reason,
        "phase": record.phase.value,
        "result": record.result,
        "cause": record.cause,
        "duration_s": "" if record.duration_s is None else f"{record.duration_s:.1f}",
        "slack_channel": record.slack_channel,
        "slack_ts": record.slack_ts,
        "reported": "true" if record.reported else "false",
        "reported_by": record.reported_by,
        "rolled_back": "true" if record.rolled_back else "false",
        "targets": json.dumps([asdict(t) for t in record.targets]),
        **{f"x-{k}": v for k, v in record.extra.items()},
    }


def from_configmap(obj: KubeObject) -> DeployRecord:
    """The record a ConfigMap stores (pure); `ValueError` if it isn't one."""
    data: dict[str, str] = obj.get("data") or {}
    when = parse_time(data.get("when"))
    if not data.get("id") or when is None:
        raise ValueError("not a Deckhand deploy record")
    duration = data.get("duration_s")
    return DeployRecord(
        id=data["id"],
        who=data.get("who", ""),
        when=when,
        env=data.get("env", ""),
        namespace=data.get("namespace", ""),
        tag=data.get("tag", ""),
        targets=tuple(TargetRecord(**t) for t in json.loads(data.get("targets") or "[]")),
        reason=data.get("reason", ""),
        phase=RecordPhase(data.get("phase", RecordPhase.ROLLING_OUT.value)),
        result=data.get("result", ""),
        cause=data.get("cause", ""),
        duration_s=float(duration) if duration else None,
        slack_channel=data.get("slack_channel", ""),
        slack_ts=data.get("slack_ts", ""),
        reported=data.get("reported") == "true",
        reported_by=data.get("reported_by", ""),
        rolled_back=data.get("rolled_back") == "true",
        extra={k[2:]: v for k, v in data.items() if k.startswith("x-")},
    )


def _finished(
    record: DeployRecord,
    phase: RecordPhase,
    result: str,
    cause: str,
    duration_s: float,
    rolled_back: bool,
) -> DeployRecord:
    return replace(
        record,
        phase=phase,
        result=result,
        cause=cause,
        duration_s=duration_s,
        rolled_back=rolled_back,
    )


CODEC: Codec[DeployRecord] = Codec(lambda r: record_name(r.id), _to_data, from_configmap)
to_configmap = CODEC.to_configmap


@dataclass
class Records:
    """The deploy records in Deckhand's namespace."""

    kube: KubeClient
    namespace: str

    @property
    def _store(self) -> ConfigMapStore[DeployRecord]:
        return ConfigMapStore(self.kube, self.namespace, CODEC)

    async def create(self, record: DeployRecord) -> DeployRecord:
        return await self._store.create(record)

    async def get(self, deploy_id: str) -> DeployRecord:
        return await self._store.get(record_name(deploy_id))

    async def update(self, deploy_id: str, change: Change[DeployRecord]) -> DeployRecord:
        """Compare-and-swap: `change` maps the stored record to the new one (None: keep it)."""
        return await self._store.update(record_name(deploy_id), change)

    async def finish(
        self,
        deploy_id: str,
        *,
        phase: RecordPhase,
        result: str,
        cause: str,
        duration_s: float,
        rolled_back: bool = False,
    ) -> DeployRecord:
        return await self.update(
            deploy_id,
            lambda r: _finished(r, phase, result, cause, duration_s, rolled_back),
        )

    async def finish_and_claim(
        self,
        deploy_id: str,
        claimant: str,
        *,
        phase: RecordPhase,
        result: str,
        cause: str,
        duration_s: float,
        rolled_back: bool = False,
    ) -> bool:
        """`finish` and `claim_report` in ONE compare-and-swap (no moment where the record
        is final and unclaimed); True when this `claimant` won the report (see
        `claim_report`; the same token again wins again: a retry is idempotent)."""
        won = False

        def change(record: DeployRecord) -> DeployRecord:
            nonlocal won
            done = _finished(record, phase, result, cause, duration_s, rolled_back)
            if record.reported:
                won = record.reported_by == claimant
                return done
            won = True
            return replace(done, reported=True, reported_by=claimant)

        await self.update(deploy_id, change)
        return won

    async def find(self, deploy_id: str) -> DeployRecord | None:
        """The record, or None when there is none (or it isn't one: a forged id)."""
        try:
            return await self.get(deploy_id)
        except (NotFound, ValueError):
            return None

    async def set_reported(self, deploy_id: str, reported: bool) -> None:
        """Mark the record (un)reported; unreporting forgets who had claimed it."""
        await self.update(
            deploy_id,
            lambda r: replace(r, reported=reported, reported_by=r.reported_by if reported else ""),
        )

    async def claim_report(self, deploy_id: str, claimant: str = "") -> bool:
        """Mark the record reported; True only for the one caller that flipped it (or,
        given the same non-empty `claimant` token again, for that caller's retry)."""
        won = False

        def change(record: DeployRecord) -> DeployRecord | None:
            nonlocal won
            if record.reported:
                won = bool(claimant) and record.reported_by == claimant
                return None
            won = True
            return replace(record, reported=True, reported_by=claimant)

        await self.update(deploy_id, change)
        return won

    async def history(self, service: str, env: str, n: int = 10) -> list[DeployRecord]:
        """The last `n` deploys of `service` to `env`, newest first."""
        selector = f"{_A}record=deploy,{_A}env={env},{_SVC}{service}=true"
        return (await self._select(selector))[:n]

    async def in_flight(self) -> list[DeployRecord]:
        """Deploys a Deckhand started and did not finish (phase rolling_out), oldest first."""
        selector = f"{_A}record=deploy,{_A}phase={RecordPhase.ROLLING_OUT.value}"
        return list(reversed(await self._select(selector)))

    async def unreported(self) -> list[DeployRecord]:
        """Finished deploys whose final Slack report was not delivered, oldest first."""
        finished = f"{_A}record=deploy,{_A}phase!={RecordPhase.ROLLING_OUT.value}"
        found = await self._select(finished)
        return [r for r in reversed(found) if not r.reported and r.slack_ts]

    async def _select(self, selector: str) -> list[DeployRecord]:
        return sorted(await self._store.select(selector), key=lambda r: r.when, reverse=True)
