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
| `validation` | server-side defaults, validation, the Go round trip (`normalize`) |
| `store` | `Store`: objects, resourceVersions, watches, garbage collection, pod logs |
| `jsonerrors`, `protobuf` | Go's JSON error texts; decoding kubectl's protobuf bodies |
| `discovery`, `openapi` | discovery documents; the minimal OpenAPI v3 kubectl needs |
| `tables` | server-side printing for `kubectl get` |
| `bodies`, `streams` | reading request bodies; watch and log-follow responses |
| `api` | `ApiServer`: routing, verbs, subresources, denials (aiohttp) |
| `server` | `SandboxCluster`: clock + store + HTTP server + controllers, kubeconfig |
| `controllers` | Deployment, ReplicaSet and kubelet stand-ins (on top of `Store`) |

See sandbox/README.md for what is modelled and what is not.
"""
