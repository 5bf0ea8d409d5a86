"""Image-pull alerts: watch the cluster, keep incidents in ConfigMaps, tell Slack once."""
