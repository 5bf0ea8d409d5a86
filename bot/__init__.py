"""The running service: settings, Slack wiring, registry client, rollout engine,
approvals, alerts, state kept in the cluster, lifecycle, health and metrics."""
