"""New images: the one path from a push (webhook or poll) to an announcement and auto-deploy.

    delivery = Delivery(config, engine=…, registry=…, client=…, store=…, deploy=…, …)
    await delivery.on_version(version, via="webhook")   # what both sources call
    await delivery.poll_once()                           # one packages API request per owner
    supervisor.spawn(delivery.keep_polling(interval_s=60, is_leader=…))
    supervisor.spawn(delivery.keep_auto_deploying(interval_s=5, is_leader=…))
    supervisor.keep(lambda: delivery.keep_retrying(interval_s=60), name=…)  # refused ones

`on_version`: the package's service (`commands.delivery.service_of`; anything else is
ignored), a claim in the cluster (`DeliveryStore.claim`: the first caller ever wins, so
a second replica, a restart or the poller after the webhook never announce twice), the
registry check for the nodes' platform, the decision (`commands.delivery.announcement`)
and ONE message in the service's channel (`bot.delivery.render`). Environments with
`auto_deploy` get the tag queued (`DeliveryStore.enqueue`).

Auto-deploy runs on the leader: each queue's step (`commands.delivery.auto_deploy_step`:
never while locked, a rollback lock included, frozen, or deploying that service; the
newest tag wins, older ones are listed as skipped) and, when it is time, exactly the
flow of `/deploy SERVICE TAG to ENV` in a live message of its own, requested by
Deckhand's bot user, with the reason "auto-deploy of a push by …".

Polling honours `Retry-After`: a throttled owner is asked again no sooner than it says.

An announcement Slack refuses (the bot was removed from the channel, an outage, a
timeout) is not lost: its claim is released (so Gitea's "Redeliver" announces it at
once) and the process that got the refusal tries again every `retry_interval_s`
(`keep_retrying`), up to `ANNOUNCE_ATTEMPTS` attempts, through the same claim (so still
exactly once). The auto-deploy queue got the tag the first time; a retry only
announces. A process that dies with refusals pending loses those retries (a
redelivery or the next push still announces).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.render import render_announcement
from bot.delivery.store import DeliveryStore, PushClaim
from bot.kube.errors import KubeError
from bot.lifecycle import Supervisor
from bot.registry.client import RegistryClient
from bot.registry.errors import RateLimited, RegistryError
from bot.rollout.cluster_reads import lock_info, read_current
from bot.rollout.engine import RolloutEngine
from bot.slack import writes
from bot.slack.client import SlackError, slack_call
from bot.slack.contexts import CommandContext, Replier
from commands import texts
from commands.changes import Revisions, revision_of
from commands.config import DeckhandConfig
from commands.delivery import (
    Announcement,
    AutoDeploy,
    Hold,
    PackageVersion,
    Pending,
    announce_channel,
    announcement,
    auto_deploy_step,
    new_versions,
    package_rows,
    service_of,
)
from commands.images import tag_of
from commands.validate import ValidatedDeploy

log = logging.getLogger(__name__)

ANNOUNCE_ATTEMPTS = 30
"""Attempts at one announcement Slack keeps refusing before Deckhand gives up on it
(with the default 60 s retry interval: half an hour)."""

RunDeploy = Callable[[CommandContext, ValidatedDeploy], Awaitable[None]]
"""`DeployFlow.deploy`: check, approvals, locks, freeze windows, the live message."""


@dataclass(frozen=True)
class Owner:
    """One polled owner: its registry host, name, and the image names of its services."""

    registry: str
    owner: str
    names: tuple[str, ...]

    @property
    def query(self) -> str:
        """Gitea matches `q` as a substring: the names' common prefix finds them all."""
        prefix = self.names[0]
        for name in self.names[1:]:
            while not name.startswith(prefix):
                prefix = prefix[:-1]
        return prefix


def owners_of(config: DeckhandConfig) -> list[Owner]:
    """The (registry, owner) pairs the services' images live under (config order)."""
    found: dict[tuple[str, str], list[str]] = {}
    for service in config.services.values():
        ref = service.reference()
        owner, _, name = ref.repository.partition("/")
        if name:
            found.setdefault((ref.registry, owner.lower()), []).append(name.lower())
    return [Owner(r, o, tuple(n)) for (r, o), n in found.items()]


@dataclass
class Delivery:
    """Announcements and auto-deploys of new images (see the module docstring)."""

    config: DeckhandConfig
    engine: RolloutEngine
    registry: RegistryClient
    client: AsyncWebClient
    store: DeliveryStore
    deploy: RunDeploy
    supervisor: Supervisor
    update_interval_s: float
    finish_timeout_s: float
    slack_timeout_s: float = 10.0
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    requests: int = 0
    """Packages API requests made so far (the bench reads it)."""
    announced: int = 0
    _bot_user: str | None = None
    _running: set[tuple[str, str]] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _not_before: dict[tuple[str, str], float] = field(default_factory=dict)
    _refused: dict[tuple[str, str], tuple[PackageVersion, str, int]] = field(default_factory=dict)
    """Announcements Slack refused: (version, via, attempts so far), by (service, tag)."""

    # ---- the one path ----

    async def on_version(self, version: PackageVersion, *, via: str) -> bool:
        """Announce `version` once ever (True if this call did); see the module docstring."""
        return await self._announce(version, via=via, first=True)

    async def retry_refused(self) -> int:
        """Try again each announcement Slack refused (see the module docstring); returns
        how many went out."""
        done = 0
        for version, via, _ in list(self._refused.values()):
            done += await self._announce(version, via=via, first=False)
        return done

    async def keep_retrying(self, *, interval_s: float) -> None:
        """`retry_refused` every `interval_s`, in any replica (each retries its own)."""
        while True:
            await asyncio.sleep(interval_s)
            if self._refused:
                try:
                    await self.retry_refused()
                except KubeError as e:
                    log.warning("announcement retries: cluster unavailable (%s)", e.sentence())

    async def _announce(self, version: PackageVersion, *, via: str, first: bool) -> bool:
        service = service_of(self.config, version.owner, version.name)
        if service is None or not version.is_tag:
            log.info(
                "push %s/%s:%s: not a configured service's tag",
                version.owner,
                version.name,
                version.version,
            )
            return False
        channel = announce_channel(self.config, service)
        if channel is None:
            log.warning("push of %s %s: no channel to announce it in", service, version.version)
            return False
        claim = PushClaim(service, version.version, version.creator, version.created_at, via)
        if not await self.store.claim(claim):
            self._refused.pop((service, version.version), None)  # someone else has it
            return False
        verdict = (await self.engine.inspect((service,), version.version))[service]
        said = announcement(
            config=self.config, service=service, version=version, verdict=verdict, channel=channel
        )
        # Queued before the message: an auto-deploy never depends on Slack taking it
        # (and a retried announcement never queues it twice).
        pending = Pending(version.version, version.creator, version.created_at)
        for env in said.auto_deploy if first else ():
            await self.store.enqueue(service, env, pending, channel=channel)
        if said.auto_deploy and first:
            self._wake.set()
        summary, full = await self._notes(service, said)
        blocks, text = render_announcement(said, notes=summary)
        try:
            async with asyncio.timeout(self.slack_timeout_s):
                _, ts = await writes.post_message(
                    self.client, channel=channel, text=text, blocks=blocks
                )
        except (SlackError, TimeoutError) as e:
            # Let go of the claim: Gitea's "Redeliver", another replica or our own retry
            # takes it again.
            await self.store.release(claim)
            self._remember_refused(service, version, via, e)
            return False
        self._refused.pop((service, version.version), None)
        self.announced += 1
        log.info("announced %s %s (via %s) in %s", service, version.version, via, channel)
        if full:  # the message shows a few titles; the full lists go to its thread
            try:
                async with asyncio.timeout(self.slack_timeout_s):
                    await writes.post_message(self.client, channel=channel, text=full, thread_ts=ts)
            except (SlackError, TimeoutError) as e:
                log.warning(
                    "push of %s %s: change notes not posted: %s", service, version.version, e
                )
        try:
            await self.store.announced(claim, channel=channel, ts=ts)
        except KubeError as e:
            log.warning(
                "push claim of %s %s not updated: %s", service, version.version, e.sentence()
            )
        return True

    def _remember_refused(
        self, service: str, version: PackageVersion, via: str, error: Exception
    ) -> None:
        key = (service, version.version)
        attempts = self._refused.get(key, (version, via, 0))[2] + 1
        if attempts >= ANNOUNCE_ATTEMPTS:
            self._refused.pop(key, None)
            log.error(
                "push of %s %s not announced after %d attempts, giving up: %s",
                service,
                version.version,
                attempts,
                error,
            )
            return
        self._refused[key] = (version, via, attempts)
        log.warning(
            "push of %s %s not announced (attempt %d, will retry): %s",
            service,
            version.version,
            attempts,
            error,
        )

    async def _notes(self, service: str, said: Announcement) -> tuple[list[str], str]:
        """Change notes against what each environment with a button runs (when Deckhand
        reads Gitea: `DECKHAND_GITEA_TOKEN`), bounded by the notes reader's deadline: the
        message's lines, and the full lists for its thread ('' when none)."""
        reader = self.engine.notes
        if reader is None or said.image is None:
            return [], ""
        source = self.config.services[service].source_url
        new = revision_of(label=said.image.revision_label, tag=said.tag)
        lines: list[str] = []
        threads: list[str] = []
        for env in said.buttons:
            try:
                current = await read_current(
                    self.engine.cluster(env), self.config, services=(service,), env=env
                )
            except KubeError as e:
                log.info("change notes of %s vs %s skipped: %s", service, env, e.sentence())
                continue
            image = next((s.image for s in current.values() if s.image), None)
            running = revision_of(label=None, tag=tag_of(image)) if image else None
            found = await reader.read({service: Revisions(source, running, new)})
            lines += [texts.push_changes_against(env), *texts.change_summary(found[service])]
            if full := texts.notes_thread([found[service]]):
                threads.append(f"{texts.push_changes_against(env)}\n{full}")
        return lines, "\n\n".join(threads)

    # ---- polling ----

    async def poll_once(self) -> None:
        """One packages API request per owner (unless it asked us to wait); each new tag
        goes through `on_version`."""
        for owner in owners_of(self.config):
            key = (owner.registry, owner.owner)
            if time.monotonic() < self._not_before.get(key, 0.0):
                continue
            self.requests += 1
            try:
                raw = await self.registry.package_versions(
                    owner.registry, owner.owner, query=owner.query
                )
            except RateLimited as e:
                wait = e.retry_after_s or 0.0
                self._not_before[key] = time.monotonic() + wait
                log.warning(
                    "packages of %s on %s: rate limited; next poll in %.0f s or later",
                    owner.owner,
                    owner.registry,
                    wait,
                )
                continue
            except RegistryError as e:
                log.warning("packages of %s on %s: %s", owner.owner, owner.registry, e.sentence())
                continue
            rows = [r for r in package_rows(raw) if r.name in owner.names]
            mark = await self.store.mark(owner.registry, owner.owner)
            fresh, after = new_versions(rows, mark)
            if after is not None and after != mark:
                await self.store.set_mark(owner.registry, owner.owner, after)
            for version in fresh:
                await self.on_version(version, via="poll")

    async def keep_polling(self, *, interval_s: float, is_leader: Callable[[], bool]) -> None:
        """On the leader, `poll_once` every `interval_s` (a failed poll is logged)."""
        while True:
            if is_leader():
                try:
                    await self.poll_once()
                except KubeError as e:
                    log.warning("packages poll: cluster unavailable (%s)", e.sentence())
            await asyncio.sleep(interval_s)

    # ---- auto-deploy ----

    async def auto_deploy_once(self) -> int:
        """Every queue's step (see the module docstring); returns deploys started."""
        started = 0
        now = self.engine.clock.now()
        for queue in await self.store.waiting():
            env = self.config.environments.get(queue.env)
            if env is None or queue.service not in self.config.services or not env.auto_deploy:
                continue
            holder = await self.engine.locks.holder(queue.service, queue.env)
            step = auto_deploy_step(
                pending=queue.pending,
                locked=lock_info(holder) if holder is not None and holder.manual else None,
                frozen=any(w.contains(now) for w in env.approvals.windows),
                in_flight=(holder is not None and not holder.manual)
                or (queue.service, queue.env) in self._running,
                now=now,
            )
            if step is None or isinstance(step, Hold):
                continue
            assert isinstance(step, AutoDeploy)
            tags = [step.newest.tag, *(p.tag for p in step.skipped)]
            if not await self.store.take(queue, tags):
                continue
            started += 1
            self._start(queue.service, queue.env, queue.channel, step)
        return started

    def _start(self, service: str, env: str, channel: str, step: AutoDeploy) -> None:
        key = (service, env)
        self._running.add(key)

        async def run() -> None:
            try:
                ctx = await self._context(channel)
                skipped = [p.tag for p in step.skipped]
                reason = texts.auto_deploy_reason(step.newest.pushed_by, skipped)
                await self.deploy(
                    ctx, ValidatedDeploy((service,), env, step.newest.tag, reason[:300])
                )
            finally:
                self._running.discard(key)

        self.supervisor.spawn(run(), name=f"auto-deploy:{service}:{env}")

    async def _context(self, channel: str) -> CommandContext:
        user = await self._bot()
        replier = Replier(
            self.client,
            supervisor=self.supervisor,
            channel_id=channel,
            user_id=user,
            response_url=None,
            update_interval_s=self.update_interval_s,
            finish_timeout_s=self.finish_timeout_s,
        )
        return CommandContext(
            correlation_id="auto-deploy",
            command="/deploy",
            text="",
            user_id=user,
            user_name="deckhand",
            channel_id=channel,
            team_id="",
            response_url=None,
            trigger_id=None,
            replier=replier,
        )

    async def _bot(self) -> str:
        """Deckhand's own Slack user id: auto-deploys are requested by it."""
        if self._bot_user is None:
            identity = await slack_call("auth.test", self.client.auth_test())
            self._bot_user = str(identity.get("user_id") or "deckhand")
        return self._bot_user

    async def keep_auto_deploying(
        self, *, interval_s: float, is_leader: Callable[[], bool]
    ) -> None:
        """On the leader: `auto_deploy_once` every `interval_s`, and at once after a push."""
        while True:
            if is_leader():
                try:
                    await self.auto_deploy_once()
                except KubeError as e:
                    log.warning("auto-deploy: cluster unavailable (%s)", e.sentence())
            self._wake.clear()
            try:
                async with asyncio.timeout(interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
