"""Local stand-ins for tests and the demo: a simulated Kubernetes API server, a
Gitea-compatible container registry and a local Slack. See sandbox/README.md."""
