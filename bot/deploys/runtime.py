"""Open the real deploy backend for `deckhand run`: config, clients, flows, report keeping.

    backend = await open_deploy_backend(settings, stack, supervisor, client)

On `stack` (closed in reverse on shutdown): the rollout engine with its Kubernetes
clients (`bot.rollout.engine.open_engine`: `DECKHAND_KUBECONFIG`, else in-cluster; one
client per distinct `kube_context`) and one registry client (for `tags`). The Slack
Web API client is the runtime's own (opened once by `bot.run`).

Then, when `is_leader()` says so (always, until alerts land leader election): resume
the deploys a previous Deckhand left rolling out (their recorded messages are updated
to the verdict), deliver final reports Slack refused earlier, and keep retrying those
every `report_retry_interval_s` in a supervised task.

Approvals: unless `approvals` is given (`ApprovalsDisabled()` turns them off), the
`bot.approvals.gate.ApprovalDesk` is the flow's gate and takes the approval buttons,
modals and `/deploy cancel`; its expiry runs on the leader (`bot.approvals.expiry`).

A config file that can't be used raises `ValueError` (one line per problem): `deckhand
run` exits 1 with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from functools import partial

from kubernetes_asyncio.config import ConfigException
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals.expiry import keep_expiring
from bot.approvals.gate import ApprovalDesk
from bot.config import ConfigError, load_config
from bot.delivery.announcer import Delivery
from bot.delivery.store import DeliveryStore
from bot.delivery.webhook import HOOK_PATH, gitea_hook
from bot.deploys.deploy_flow import ApprovalGate, DeployFlow
from bot.deploys.operations import Operations
from bot.deploys.router import DeckhandBackend
from bot.deploys.usergroups import UserGroups
from bot.home.service import HomeService, WithHome
from bot.kube.client import KubeClient, KubeOptions
from bot.kube.errors import KubeError
from bot.lifecycle import Supervisor
from bot.metrics import Metrics
from bot.registry.client import RegistryClient
from bot.rollout.clock import Clock
from bot.rollout.engine import RolloutEngine, open_engine
from bot.settings import Settings
from bot.slack.seam import DeployBackend

log = logging.getLogger(__name__)

USERGROUP_TTL_S = 300.0


async def enter_kube(
    stack: AsyncExitStack,
    settings: Settings,
    context: str | None,
    options: KubeOptions | None = None,
) -> KubeClient:
    """A Kubernetes client on `stack`: `DECKHAND_KUBECONFIG` (or a named context), else
    in-cluster, else the default kubeconfig. `ValueError` (one line) when unreachable."""
    try:
        if settings.kubeconfig is not None or context is not None:
            opened = KubeClient.from_kubeconfig(
                settings.kubeconfig, context=context, options=options
            )
            return await stack.enter_async_context(opened)
        try:
            return await stack.enter_async_context(KubeClient.in_cluster(options=options))
        except ConfigException:  # not in a cluster: the default kubeconfig
            return await stack.enter_async_context(
                KubeClient.from_kubeconfig(None, options=options)
            )
    except (KubeError, ConfigException) as e:
        where = f"kube context {context!r}" if context else "the cluster"
        raise ValueError(f"cannot reach {where}: {e}") from None


_enter_kube = enter_kube  # the name bot.alerts.runtime imports


def kube_options(metrics: Metrics | None, settings: Settings | None = None) -> KubeOptions | None:
    """Client options: watch reconnects counted into `metrics`, the outage back-off from
    `settings` (None for both: the defaults)."""
    if metrics is None and settings is None:
        return None
    options = KubeOptions()
    if settings is not None:
        options = replace(options, reconnect_backoff_s=tuple(settings.kube_retry_backoff_s))
    if metrics is not None:
        options = replace(options, on_watch_reconnect=metrics.watch_reconnected)
    return options


async def open_deploy_backend(
    settings: Settings,
    stack: AsyncExitStack,
    supervisor: Supervisor,
    client: AsyncWebClient,
    *,
    clock: Clock | None = None,
    approvals: ApprovalGate | None = None,
    is_leader: Callable[[], bool] = lambda: True,
    metrics: Metrics | None = None,
) -> DeployBackend:
    """The `DeckhandBackend`, its clients on `stack`, report keeping started; `metrics`
    (when given) counts deploy outcomes and watch reconnects."""
    try:
        config = load_config(settings.config)
    except ConfigError as e:
        raise ValueError(str(e)) from None
    registry_settings = settings.registry()
    try:
        engine = await stack.enter_async_context(
            open_engine(
                config,
                registry_settings,
                kubeconfig=settings.kubeconfig,
                clock=clock,
                options=kube_options(metrics, settings),
                gitea=settings.gitea(),
            )
        )
    except (KubeError, ConfigException) as e:
        # `deckhand run` exits 1 with this one line (an operator fixes the kubeconfig).
        raise ValueError(f"cannot reach the cluster: {e}") from None
    registry = await stack.enter_async_context(RegistryClient(registry_settings))
    ops = Operations(engine, registry)
    if metrics is not None:
        ops.on_deploy_end = metrics.deploy_ended
    usergroups = UserGroups(client, ttl_s=USERGROUP_TTL_S)
    desk = None
    if approvals is None:
        desk = ApprovalDesk(ops, client=client, usergroups=usergroups)
        approvals = desk
    flow = DeployFlow(
        ops,
        approvals=approvals,
        client=client,
        supervisor=supervisor,
        update_interval_s=settings.slack_update_interval_s,
        finish_timeout_s=settings.slack_finish_timeout_s,
    )
    if desk is not None:
        desk.bind(flow.run_approved)
        expiring = keep_expiring(
            desk, interval_s=settings.approval_expiry_interval_s, is_leader=is_leader
        )
        supervisor.spawn(expiring, name="approval-expiry")
    delivery = open_delivery(settings, supervisor, client, engine, registry, flow, is_leader)
    hook = gitea_hook(
        delivery,
        supervisor=supervisor,
        secret=settings.webhook_secret(),
        max_age_s=settings.gitea_webhook_max_age_s,
    )
    inner = DeckhandBackend(
        config,
        ops=ops,
        flow=flow,
        usergroups=usergroups,
        approvals=desk,
        http_hooks={HOOK_PATH: hook},
    )
    home = HomeService(config, engine, client)
    backend = WithHome(inner, home)
    supervisor.spawn(home.follow_deploys(), name="home-refresh")
    supervisor.spawn(
        keep_reports(flow, interval_s=settings.report_retry_interval_s, is_leader=is_leader),
        name="deploy-reports",
    )
    return backend


def open_delivery(
    settings: Settings,
    supervisor: Supervisor,
    client: AsyncWebClient,
    engine: RolloutEngine,
    registry: RegistryClient,
    flow: DeployFlow,
    is_leader: Callable[[], bool],
) -> Delivery:
    """New images (`bot.delivery`): the leader polls the packages API (unless the
    interval is 0) and runs auto-deploys; the webhook route feeds the same path.
    TODO(compose): move the two loops under the leader's "runs while leading" tasks."""
    delivery = Delivery(
        engine.config,
        engine=engine,
        registry=registry,
        client=client,
        store=DeliveryStore(engine.kube, engine.config.deckhand.namespace),
        deploy=flow.deploy,
        supervisor=supervisor,
        update_interval_s=settings.slack_update_interval_s,
        finish_timeout_s=settings.slack_finish_timeout_s,
        slack_timeout_s=settings.slack_timeout_s * 3,
    )
    if settings.packages_poll_interval_s > 0:
        polling = delivery.keep_polling(
            interval_s=settings.packages_poll_interval_s, is_leader=is_leader
        )
        supervisor.spawn(polling, name="packages-poll")
    if any(env.auto_deploy for env in engine.config.environments.values()):
        auto = delivery.keep_auto_deploying(
            interval_s=settings.auto_deploy_interval_s, is_leader=is_leader
        )
        supervisor.spawn(auto, name="auto-deploy")
    return delivery


async def keep_reports(
    flow: DeployFlow, *, interval_s: float, is_leader: Callable[[], bool]
) -> None:
    """On the leader, every `interval_s`: `DeployFlow.sweep` (resume deploys whose
    follower is gone, in their own supervised tasks; late reports; locks of finished
    deploys)."""
    while True:
        if is_leader():
            try:
                await flow.sweep()
            except KubeError as e:
                log.warning(
                    "deploy reports: cluster unavailable (%s); retrying later", e.sentence()
                )
        await asyncio.sleep(interval_s)


def backend_factory(
    *, clock: Clock | None = None, approvals: ApprovalGate | None = None
) -> Callable[..., object]:
    """`open_deploy_backend` with a clock / approval gate bound (tests, the sandbox demo)."""
    return partial(open_deploy_backend, clock=clock, approvals=approvals)
