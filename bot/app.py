"""The composition root: the one place that builds Deckhand, and its one shutdown path.

    async with AsyncExitStack() as stack:
        core = await open_core(settings, stack=stack)              # the CLI stops here
        deckhand = await start(settings, stack=stack, supervisor=…, readiness=…)

`open_core` (every front door: `deckhand run`, `deckhand deploy|status|…`; the doctor,
`deckhand check`, opens the same clients one by one through `open_kube`, `open_registry`
and `open_gitea`, so that one that can't be opened doesn't hide the others): the config
file, loaded once; one `KubeClient` per cluster (Deckhand's own: `DECKHAND_KUBECONFIG`,
else `KUBECONFIG`, else in-cluster, else `~/.kube/config`, as kubectl resolves them in
`bot.kube.config`; one more per distinct env `kube_context`); one
`RegistryClient` (its HTTP session serves the checks, the tag lists and the pull
re-checks of the engine and the alerts); with a Gitea token, one `GiteaClient` for the
change notes; the `RolloutEngine` over them.

`start` (`deckhand run`, and the test harnesses, which point `settings` at their
stand-ins' URLs, kubeconfig and tokens) opens, on one `AsyncExitStack` (closed in
reverse):
1. the Slack Web API client (one HTTP session), its token checked with `auth.test`,
   then the core;
2. the deploy flow, the approval desk and the chat front door (`DeckhandBackend`,
   with the App Home tab: `bot.home`);
3. the leader-only work (`bot.leader.LeaderWork`: the deploy sweep — resume deploys whose
   follower is gone, late final reports, locks of finished deploys — and approval expiry,
   at once when leadership is gained, then on their intervals; the packages-API poll and
   the auto-deploy queue (`bot.delivery`); workload alerts and drift notices while
   leading, when an alert channel is configured) and the leader election running it, on
   Deckhand's own `KubeClient` (no second client);
4. the Bolt app, the HTTP server on `DECKHAND_HTTP_LISTEN` (`/healthz`, `/readyz`,
   `/metrics`, `/hooks/gitea`, and in HTTP mode `/slack/events`) and, with an `xapp-`
   token, Socket Mode.

`run` then marks readiness READY and waits in `bot.lifecycle.run_until_signal`, the only
shutdown path.

The long-lived tasks, and what their death does (`bot.lifecycle.Supervisor.keep`). Each
is killed in tests/scenarios/test_supervised_tasks.py (then its next event is processed)
unless another test is named:

    task                   dies →                     why that mode
    leader-election        restarted, back-off        its `finally` cancelled the leader
                                                      jobs and released the Lease: a new
                                                      run campaigns from scratch
    leader-deploy-sweep,   leadership given up; the   each rebuilds its state from the
    leader-approval-       next campaign (here or on  cluster on every start (records,
    expiry, leader-        another replica) starts    Leases, approval, incident, drift
    packages-poll,         every leader job again     and auto-deploy queue ConfigMaps):
    leader-auto-deploy,                               what a dead one left, the next
    leader-alerts,                                    leader finds
    leader-drift
    home-refresh           restarted, back-off        a new watch lists the deploy
                                                      records again; openers are kept
                                                      in `HomeService`, not the task
    metrics-gauges         restarted, back-off        counts from the cluster, keeps
                                                      nothing
    socket-mode-watchdog   restarted, back-off        it rebuilds whatever connection it
                           (tests/bot/slack/          finds: none, stale, half-rebuilt
                           test_socket_mode.py)
    socket-mode-watchdog,  fails the process:         no restart can reconnect with that
    Slack refusing the     /readyz red, exit 1        token; only a new process reads a
    app token for good     (`CannotRestart`; tests/   new one from its Secret (at start,
                           scenarios/                 the same refusal: one line, exit 1)
                           test_fatal_task.py)

Not kept, on purpose: per-request work (`deploy:…`, `approve:…`, a live message's
flusher, `auto-deploy:SERVICE:ENV`, `deploys-resume`) ends with its request; a failure
is logged and answered, and the leader's sweep picks up what a lost one left. Helpers
scoped to a block (`bot.tasks.background`: a deploy lock's renewer, the rollout's watch
feeders, the alert view's streams, `leader-renew`; drift's per-namespace loops) end with
their owner, and one that fails takes its owner down: the owner's mode above applies.
The HTTP server is no task (aiohttp serves inside the loop): the kubelet's liveness
probe on /healthz covers a loop that stopped answering.

`main` is `deckhand run`: logging (`bot.logs`), the one `Metrics`.
A config file that can't be used raises `ValueError` (one line per problem), a cluster
that can't be reached `KubeError`: `deckhand run` exits 1 with one line for either.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.drift import DriftService
from bot.alerts.service import AlertService, alerts_enabled
from bot.approvals.gate import ApprovalDesk
from bot.chat import DeckhandBackend
from bot.clock import Clock
from bot.config import ConfigError, load_config
from bot.delivery.announcer import Delivery
from bot.delivery.store import DeliveryStore
from bot.delivery.webhook import HOOK_PATH, Handler, gitea_hook
from bot.deploys.deploy_flow import DeployFlow
from bot.gitea.client import GiteaClient
from bot.gitea.notes import ChangeNotesReader
from bot.home.service import HomeService, WithHome
from bot.http import build_http_app, parse_listen, serve_http
from bot.kube.client import KubeClient, KubeOptions
from bot.kube.config import kube_source, open_kube_client
from bot.kube.errors import KubeError
from bot.leader import LeaderElector, LeaderWork
from bot.lifecycle import FATAL_PREFIX, ReadinessState, Supervisor, run_until_signal
from bot.logs import configure_logging
from bot.metrics import Metrics, deckhand_version, poll_cluster_gauges
from bot.registry.client import RegistryClient
from bot.rollout.engine import RolloutEngine
from bot.settings import Settings
from bot.slack.app import build_app, require_signing_secret, uses_socket_mode
from bot.slack.client import SlackError, open_web_client, slack_call
from bot.slack.contexts import DeployBackend
from bot.slack.socket_keeper import SocketModeKeeper
from bot.slack.usergroups import UserGroups
from commands.config import DeckhandConfig

log = logging.getLogger(__name__)

USERGROUP_TTL_S = 300.0


@dataclass
class Core:
    """What every front door needs: the config and the clients (see the module docstring)."""

    settings: Settings
    config: DeckhandConfig
    kube: KubeClient
    """Deckhand's own cluster: its namespace (records, locks, approvals, the Lease)."""
    clusters: dict[str, KubeClient]
    """One more client per distinct env `kube_context`."""
    registry: RegistryClient
    engine: RolloutEngine


async def open_kube(
    stack: AsyncExitStack,
    settings: Settings,
    *,
    context: str | None = None,
    options: KubeOptions | None = None,
) -> KubeClient:
    """A Kubernetes client on `stack`, its credentials found as kubectl finds them
    (`bot.kube.config.kube_source`: DECKHAND_KUBECONFIG, else KUBECONFIG merged, else
    in-cluster, else ~/.kube/config), `context` selected in them. `BadKubeconfig` when
    none can be built."""
    opened = open_kube_client(kube_source(settings), context=context, options=options)
    return await stack.enter_async_context(opened)


async def open_registry(settings: Settings, *, stack: AsyncExitStack) -> RegistryClient:
    """The one registry client of a process, on `stack`: the engine's checks and tag lists,
    the pull re-checks of the engine and the alerts, the doctor. A namespace's pull secret
    is asked over its HTTP session (`RegistryClient.with_credentials`), not a second one."""
    return await stack.enter_async_context(RegistryClient(settings.registry()))


async def open_gitea(settings: Settings, *, stack: AsyncExitStack) -> GiteaClient:
    """The one Gitea API client (change notes; the doctor's token check), on `stack`."""
    return await stack.enter_async_context(GiteaClient(settings.gitea()))


def load(settings: Settings) -> DeckhandConfig:
    """The config file, once; `ValueError` (one line per problem) when it can't be used."""
    try:
        return load_config(settings.config)
    except ConfigError as e:
        raise ValueError(str(e)) from None


async def open_core(
    settings: Settings,
    *,
    stack: AsyncExitStack,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    config: DeckhandConfig | None = None,
) -> Core:
    """The config (`config`, else the settings' file) and the clients on `stack`, and the
    engine over them."""
    config = config or load(settings)
    options = KubeOptions(reconnect_backoff_s=tuple(settings.kube_retry_backoff_s))
    if metrics is not None:
        options = replace(options, on_watch_reconnect=metrics.watch_reconnected)
    kube = await open_kube(stack, settings, options=options)
    clusters: dict[str, KubeClient] = {}
    for env in config.environments.values():
        context = env.kube_context
        if context and context not in clusters:
            clusters[context] = await open_kube(stack, settings, context=context, options=options)
    registry = await open_registry(settings, stack=stack)
    notes = ChangeNotesReader(await open_gitea(settings, stack=stack), settings.gitea())
    engine = RolloutEngine(config, kube, registry, clock, clusters, notes)
    if metrics is not None:
        engine.on_deploy_end = metrics.deploy_ended
    return Core(settings, config, kube, clusters, registry, engine)


@dataclass
class SlackFront:
    """The Slack side as started: the Bolt app, the HTTP server's URL, Socket Mode."""

    app: AsyncApp
    http_url: str
    socket_mode: SocketModeKeeper | None = None

    async def stop_accepting(self) -> None:
        """Stop taking new requests: disconnect Socket Mode (HTTP mode: the supervisor
        refuses new work and handlers answer "restarting")."""
        if self.socket_mode is not None:
            keeper, self.socket_mode = self.socket_mode, None
            await keeper.close()


async def open_slack_front(
    settings: Settings,
    *,
    stack: AsyncExitStack,
    supervisor: Supervisor,
    readiness: ReadinessState,
    client: AsyncWebClient,
    backend: DeployBackend,
    metrics: Metrics | None = None,
    hooks: Mapping[str, Handler] | None = None,
) -> SlackFront:
    """Bolt, the HTTP server and (with an app token) Socket Mode, answering through
    `backend`; `hooks` are more HTTP routes (Gitea's package webhook, in Socket Mode
    too). Readiness stays STARTING. Socket Mode: `bot.slack.socket_keeper` (a
    watchdog rebuilds a stale connection; /readyz is red while none is open)."""
    app = build_app(settings, backend=backend, supervisor=supervisor, client=client)
    socket = uses_socket_mode(settings)
    secret = settings.slack_signing_secret
    http_app = build_http_app(
        readiness=readiness,
        bolt_app=None if socket else app,
        metrics=metrics,
        signing_secret=secret.get_secret_value() if secret is not None else None,
        hooks=hooks,
    )
    host, port = parse_listen(settings.http_listen)
    http_url = await stack.enter_async_context(serve_http(http_app, host=host, port=port))
    log.info("http: listening on %s (%s mode)", http_url, "socket" if socket else "http")
    front = SlackFront(app, http_url)
    if socket:
        assert settings.slack_app_token is not None
        keeper = SocketModeKeeper(
            app,
            app_token=settings.slack_app_token.get_secret_value(),
            web_client=client,
            stale_after_s=settings.slack_socket_stale_s,
            connect_timeout_s=settings.slack_timeout_s * 3,
            on_rebuild=metrics.socket_rebuilt if metrics is not None else lambda reason: None,
        )
        # Registered before connecting: a failed connect still closes the client's session.
        stack.push_async_callback(front.stop_accepting)
        front.socket_mode = keeper
        readiness.require("Slack connection", keeper.is_open)
        await keeper.connect()
        supervisor.keep(keeper.watch, name="socket-mode-watchdog")
        log.info("slack: socket mode connected")
    return front


@dataclass
class Deckhand:
    """Everything `start` built (what the shutdown path and the tests reach)."""

    core: Core
    client: AsyncWebClient
    flow: DeployFlow
    desk: ApprovalDesk
    chat: WithHome
    elector: LeaderElector
    leader_work: LeaderWork
    front: SlackFront
    metrics: Metrics | None = field(default=None)

    @property
    def http_url(self) -> str:
        return self.front.http_url

    async def stop_accepting(self) -> None:
        await self.front.stop_accepting()


def leader_work(
    settings: Settings,
    core: Core,
    *,
    flow: DeployFlow,
    desk: ApprovalDesk,
    client: AsyncWebClient,
    delivery: Delivery,
) -> LeaderWork:
    """The leader-only jobs (see the module docstring)."""
    work = LeaderWork(retry_s=min(settings.report_retry_interval_s, 5.0))
    # Resume deploys whose follower is gone, late final reports, locks of finished
    # deploys: at once when leadership is gained, then every interval.
    work.every("deploy-sweep", settings.report_retry_interval_s, flow.sweep)

    async def expire_approvals() -> None:
        expired = await desk.expire_due()
        if expired:
            log.info("approval expiry: %d request(s) expired", expired)

    work.every("approval-expiry", settings.approval_expiry_interval_s, expire_approvals)
    if settings.packages_poll_interval_s > 0:  # new images from the packages API
        work.every("packages-poll", settings.packages_poll_interval_s, delivery.poll_once)
    if any(env.auto_deploy for env in core.config.environments.values()):
        work.throughout(
            "auto-deploy",
            lambda: delivery.keep_auto_deploying(
                interval_s=settings.auto_deploy_interval_s, is_leader=lambda: True
            ),
        )
    if alerts_enabled(core.config):
        alerts = AlertService(
            core.kube,
            client,
            config=core.config,
            registry=core.registry,
            slack_timeout_s=settings.slack_timeout_s * 3,
        )
        work.throughout("alerts", alerts.run)
        if core.config.alerts.drift:
            drift = DriftService(
                core.kube,
                client,
                config=core.config,
                registry=core.registry,
                slack_timeout_s=settings.slack_timeout_s * 3,
            )
            work.throughout("drift", drift.run)
    else:
        log.info("alerts: no alert channel configured; image-pull alerts are off")
    return work


async def start(
    settings: Settings,
    *,
    stack: AsyncExitStack,
    supervisor: Supervisor,
    readiness: ReadinessState,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
) -> Deckhand:
    """Build and start Deckhand on `stack` (see the module docstring); readiness stays
    STARTING. `clock`: pins the engine's (tests); None: each cluster's own clock."""
    require_signing_secret(settings)  # before anything opens
    client = await stack.enter_async_context(open_web_client(settings, observer=metrics))
    identity = await slack_call("auth.test", client.auth_test())
    log.info("slack: connected as %s in %s", identity.get("user"), identity.get("team"))
    core = await open_core(settings, stack=stack, clock=clock, metrics=metrics)
    usergroups = UserGroups(client, ttl_s=USERGROUP_TTL_S)
    desk = ApprovalDesk(core.engine, client=client, usergroups=usergroups)
    flow = DeployFlow(
        core.engine,
        client=client,
        supervisor=supervisor,
        update_interval_s=settings.slack_update_interval_s,
        finish_timeout_s=settings.slack_finish_timeout_s,
    )
    router = DeckhandBackend(core.engine, flow=flow, usergroups=usergroups, approvals=desk)
    home = HomeService(core.config, core.engine, client)
    chat = WithHome(router, home)
    supervisor.keep(home.follow_deploys, name="home-refresh")
    delivery = Delivery(
        core.config,
        engine=core.engine,
        registry=core.registry,
        client=client,
        store=DeliveryStore(core.kube, core.config.deckhand.namespace),
        deploy=router.deploy,
        supervisor=supervisor,
        update_interval_s=settings.slack_update_interval_s,
        finish_timeout_s=settings.slack_finish_timeout_s,
        slack_timeout_s=settings.slack_timeout_s * 3,
    )
    if settings.report_retry_interval_s > 0:  # announcements Slack refused, in any replica
        supervisor.keep(
            lambda: delivery.keep_retrying(interval_s=settings.report_retry_interval_s),
            name="announce-retry",
        )
    hook = gitea_hook(
        delivery,
        supervisor=supervisor,
        secret=settings.webhook_secret(),
        max_age_s=settings.gitea_webhook_max_age_s,
    )
    work = leader_work(settings, core, flow=flow, desk=desk, client=client, delivery=delivery)
    elector = LeaderElector(
        core.kube,
        core.config.deckhand.namespace,
        settings.pod_name,
        lease_duration_s=settings.leader_lease_duration_s,
        renew_deadline_s=settings.leader_renew_deadline_s,
        retry_period_s=settings.leader_retry_period_s,
    )
    if metrics is not None:
        elector.on_leading = metrics.set_leader
        # Counted from the ConfigMaps: no hook in the approvals/alerts modules needed.
        supervisor.keep(
            lambda: poll_cluster_gauges(
                metrics,
                core.kube,
                namespace=core.config.deckhand.namespace,
                interval_s=settings.metrics_interval_s,
            ),
            name="metrics-gauges",
        )
    # Restartable: a new elector run campaigns from scratch (its `finally` let go of all).
    supervisor.keep(lambda: elector.run(work.tasks()), name="leader-election")
    front = await open_slack_front(
        settings,
        stack=stack,
        supervisor=supervisor,
        readiness=readiness,
        client=client,
        backend=chat,
        metrics=metrics,
        hooks={HOOK_PATH: hook},
    )
    return Deckhand(core, client, flow, desk, chat, elector, work, front, metrics)


async def run(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    metrics: Metrics | None = None,
    clock: Clock | None = None,
) -> str:
    """Run until SIGTERM/SIGINT (or `stop`); returns what stopped it."""
    supervisor = Supervisor(restart_backoff_s=settings.task_restart_backoff_s)
    readiness = ReadinessState()
    async with AsyncExitStack() as stack:
        try:
            deckhand = await start(
                settings,
                stack=stack,
                supervisor=supervisor,
                readiness=readiness,
                clock=clock,
                metrics=metrics,
            )
            return await run_until_signal(
                supervisor=supervisor,
                readiness=readiness,
                grace_s=settings.shutdown_grace_s,
                stop_accepting=deckhand.stop_accepting,
                stop=stop,
            )
        finally:
            # Before the stack closes the clients the tasks use (a no-op after a clean stop).
            await supervisor.close(grace_s=settings.shutdown_grace_s)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deckhand run", description="Run Deckhand on Slack.")
    parser.add_argument("--config", type=Path, help="the YAML config file (env DECKHAND_CONFIG)")
    return parser


def main(argv: Sequence[str]) -> int:
    """`deckhand run`."""
    args = build_parser().parse_args(list(argv))
    settings = Settings.from_env()
    if args.config is not None:
        settings = settings.model_copy(update={"config": args.config})
    configure_logging(settings)
    metrics = Metrics(version=deckhand_version())
    try:
        stopped = asyncio.run(run(settings, metrics=metrics))
    except (SlackError, ValueError) as e:
        # Start-up problems an operator fixes in the configuration: one line, no traceback.
        log.error("deckhand cannot start: %s", e)
        return 1
    except KubeError as e:
        log.error("deckhand cannot start: cannot reach the cluster: %s", e.sentence())
        return 1
    if stopped.startswith(FATAL_PREFIX):  # a task died that can't be restarted
        return 1
    return 0
