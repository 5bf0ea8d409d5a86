"""`deckhand run` wiring: leader election, the leader-only alert service, the deploy backend.

    backend = await open_backend_with_leader(settings, stack, supervisor, client)

On `stack`: a Kubernetes client for Deckhand's own namespace (the one the deploy
backend would use: `DECKHAND_KUBECONFIG`, else in-cluster). Then a supervised task
`leader-election` runs `bot.leader.LeaderElector` (Lease `deckhand-leader`,
holderIdentity `DECKHAND_POD_NAME`, timings from settings); while this replica leads it
runs the workload alert service and the drift notices (when the config names an alert
channel). The deploy
backend (`bot.deploys.runtime.open_deploy_backend`) gets the elector's `is_leader`, so
resuming rollouts and retrying reports happen on the leader only.

On shutdown the supervisor cancels the election task: the alert service is cancelled,
then the Lease is released so another replica takes over at once.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.drift import DriftService
from bot.alerts.service import AlertService
from bot.config import ConfigError, load_config
from bot.deploys.runtime import _enter_kube, kube_options, open_deploy_backend
from bot.leader import LeaderElector, TaskFactory
from bot.lifecycle import Supervisor
from bot.metrics import Metrics, poll_cluster_gauges
from bot.settings import Settings
from bot.slack.seam import DeployBackend
from commands.config import DeckhandConfig

log = logging.getLogger(__name__)


def alerts_enabled(config: DeckhandConfig) -> bool:
    """Some channel receives alerts: `alerts.channel` or an env's `alert_channel` (pure)."""
    return config.alerts.channel is not None or any(
        env.alert_channel for env in config.environments.values()
    )


async def open_leader(
    settings: Settings,
    stack: AsyncExitStack,
    supervisor: Supervisor,
    client: AsyncWebClient,
    *,
    metrics: Metrics | None = None,
) -> LeaderElector:
    """Start leader election (and the alerts under it) as a supervised task; with
    `metrics`, also `is_leader`, watch reconnects and the approvals/alerts gauges."""
    try:
        config = load_config(settings.config)
    except ConfigError as e:
        raise ValueError(str(e)) from None
    kube = await _enter_kube(stack, settings, None, kube_options(metrics, settings))
    elector = LeaderElector(
        kube,
        config.deckhand.namespace,
        settings.pod_name,
        lease_duration_s=settings.leader_lease_duration_s,
        renew_deadline_s=settings.leader_renew_deadline_s,
        retry_period_s=settings.leader_retry_period_s,
    )
    if metrics is not None:
        elector.on_leading = metrics.set_leader
        # Counted from the ConfigMaps: no hook in the approvals/alerts modules needed.
        supervisor.spawn(
            poll_cluster_gauges(
                metrics,
                kube,
                namespace=config.deckhand.namespace,
                interval_s=settings.metrics_interval_s,
            ),
            name="metrics-gauges",
        )
    tasks: dict[str, TaskFactory] = {}
    if alerts_enabled(config):
        service = AlertService(
            kube,
            client,
            config=config,
            registry=settings.registry(),
            slack_timeout_s=settings.slack_timeout_s * 3,
        )
        tasks["alerts"] = service.run
        if config.alerts.drift:
            drift = DriftService(
                kube,
                client,
                config=config,
                registry=settings.registry(),
                slack_timeout_s=settings.slack_timeout_s * 3,
            )
            tasks["drift"] = drift.run
    else:
        log.info("alerts: no alert channel configured; image-pull alerts are off")
    supervisor.spawn(elector.run(tasks), name="leader-election")
    return elector


async def open_backend_with_leader(
    settings: Settings,
    stack: AsyncExitStack,
    supervisor: Supervisor,
    client: AsyncWebClient,
    *,
    metrics: Metrics | None = None,
) -> DeployBackend:
    """`open_deploy_backend`, gated on this replica's leadership (see the module docstring)."""
    elector = await open_leader(settings, stack, supervisor, client, metrics=metrics)
    return await open_deploy_backend(
        settings, stack, supervisor, client, is_leader=lambda: elector.is_leader, metrics=metrics
    )
