"""The sandbox Kubernetes API server: enough of the real apiserver for kubectl and
kubernetes-asyncio, backed by an in-memory store, with simulated controllers.

Modules, from the bottom up:

| module | responsibility |
|---|---|
| `clock` | scaled time (`Clock(speed=100)` runs the cluster 100x faster) |
| `errors` | `ApiError` and the real apiserver's `Status` bodies and texts |
| `resources` | the served resource types (`Resource`, `RESOURCES` registry) |
| `selectors` | label and field selectors |
| `patch` | strategic merge, JSON merge (RFC 7386) and JSON patch (RFC 6902) |
| `validation` | server-side defaults and validation |
| `store` | `Store`: objects, resourceVersions, watches, garbage collection, pod logs |
| `discovery` | `/version`, `/api`, `/apis`, resource lists |
| `api` | the HTTP handlers (aiohttp) |
| `server` | `SandboxCluster`: clock + store + HTTP server + controllers, kubeconfig |
| `controllers` | Deployment, ReplicaSet and kubelet stand-ins (on top of `Store`) |

See sandbox/README.md for what is modelled and what is not.
"""
