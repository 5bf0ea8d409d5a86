"""The example team, seeded: `deckhand sandbox env --dir DIR`.

`SandboxEnv` starts the sandbox cluster and the Gitea-compatible registry and seeds
them as the honeydue team runs today:

- registry user `admin` with a token; per service (api, worker, admin) four good
  linux/amd64 tags, one arm64-only tag (the laptop build that caused `exec format
  error`), one multi-arch tag and one older linux/amd64 tag (`previous`: deploying it
  is a downgrade), each labelled `org.opencontainers.image.revision`;
- per service a private git repository `admin/honeydue-<service>` on the same Gitea
  (`sandbox/history.py`): every tag is the short SHA of one of its commits, the
  revision label the full SHA; a second token with `read:repository` reads it;
- namespaces `honeydue-staging` (environment `staging`, no approval) and `honeydue`
  (environment `prod`, one approval), each with a `gitea-credentials` pull secret and
  api ×3, worker ×1 (a singleton: strategy Recreate), admin ×2 running the first
  good tag, with the seed's probes (api: a `startupProbe` of 48 × 5 s on `/healthz`;
  admin: readiness and liveness on `/`, the only path it serves); Deckhand's own
  namespace `deckhand`.

and writes into DIR: `kubeconfig`, `deckhand.yaml` (a config that works against
them), `registry.env` (`DECKHAND_REGISTRY_*`, `DECKHAND_GITEA_TOKEN`) and `seed.json`
(services, current tag, every seeded tag with its platforms). The CLI tests, the
benchmarks, the demo and anyone trying Deckhand start from here.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from commands.config import DeckhandConfig
from sandbox.cluster.controllers.knobs import HEALTHY_PATHS
from sandbox.cluster.imageref import Platform
from sandbox.cluster.resources import DEPLOYMENTS, NAMESPACES, SECRETS
from sandbox.cluster.server import SandboxCluster
from sandbox.history import seed_history
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import build_image

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")
OWNER = "admin"
PULL_SECRET = "gitea-credentials"
DECKHAND_NAMESPACE = "deckhand"
ENVIRONMENTS = {"staging": "honeydue-staging", "prod": "honeydue"}

# Demo Slack identities (the local Slack knows them; see sandbox/slack).
CHANNEL = "C0DEPLOYS1"
ALERT_CHANNEL = "C0ALERTS01"
REQUESTER = "U0ALICE001"
APPROVER = "U0BOB00001"
OUTSIDER = "U0MALLORY1"
DEVS_GROUP = "S0DEVS0001"
APPROVERS_GROUP = "S0LEADS001"


class SandboxNotReady(RuntimeError):
    """The seeded workloads did not come up in time (the message names which)."""


@dataclass(frozen=True)
class SeedService:
    """One service of the example team and the tags seeded for it."""

    name: str
    replicas: int
    good: tuple[str, ...]  # linux/amd64 tags, oldest first; good[0] runs at start
    arm64_only: str
    multi_arch: str
    previous: str
    """An ancestor of `current`: deploying it is a downgrade."""
    recreate: bool = False

    @property
    def current(self) -> str:
        return self.good[0]


def _sha(service: str, n: int | str) -> str:
    # Stable fake git SHAs, so docs and screenshots stay the same from run to run.
    return hashlib.sha1(f"honeydue-{service}-{n}".encode()).hexdigest()


def _service(name: str, replicas: int, *, recreate: bool = False) -> SeedService:
    tags = [_sha(name, n)[:7] for n in range(6)]
    return SeedService(
        name=name,
        replicas=replicas,
        good=tuple(tags[:4]),
        arm64_only=tags[4],
        multi_arch=tags[5],
        previous=_sha(name, "previous")[:7],
        recreate=recreate,
    )


SERVICES = (_service("api", 3), _service("worker", 1, recreate=True), _service("admin", 2))

ADMIN_PORT = 3000
API_PORT = 8080


def _probes(service: str) -> dict[str, Any]:
    """The seed's probes: api's first start can take 240 s (migrations serialize across
    its 3 replicas: `startupProbe.failureThreshold: 48` × 5 s); admin (Next.js) is probed
    on `/`, the path it serves."""
    if service == "api":
        healthz = {"path": "/healthz", "port": API_PORT}
        return {
            "ports": [{"containerPort": API_PORT, "name": "http"}],
            "startupProbe": {"httpGet": healthz, "periodSeconds": 5, "failureThreshold": 48},
        }
    if service == "admin":
        root = {"path": "/", "port": ADMIN_PORT}
        return {
            "ports": [{"containerPort": ADMIN_PORT, "name": "http"}],
            "readinessProbe": {"httpGet": root, "initialDelaySeconds": 3, "periodSeconds": 5},
            "livenessProbe": {"httpGet": root, "initialDelaySeconds": 3, "periodSeconds": 10},
        }
    return {}


def _template_notes(service: str) -> dict[str, Any]:
    """admin serves `/` only: a probe elsewhere gets 404 (the demo's "probe path" breaker)."""
    if service == "admin":
        return {"annotations": {HEALTHY_PATHS: "/"}}
    return {}


@dataclass
class SandboxEnv:
    """The seeded cluster + registry, as an async context manager (see module docstring)."""

    directory: Path
    speed: float = 20.0
    host: str = "127.0.0.1"
    cluster_port: int = 0
    registry_port: int = 0
    token: str = field(default_factory=lambda: "gta_" + secrets.token_hex(20))
    gitea_token: str = field(default_factory=lambda: "gtr_" + secrets.token_hex(20))
    """The `read:repository` token (change notes); `token` only has the package scopes."""
    ready_timeout_s: float = 30.0
    auto_deploy: tuple[str, ...] = ()
    """Environments the written config sets `auto_deploy: true` on (the demo: staging)."""

    def __post_init__(self) -> None:
        self.cluster = SandboxCluster(speed=self.speed, host=self.host, port=self.cluster_port)
        self.registry = GiteaRegistry(self.host, self.registry_port, users={OWNER: self.token})
        self.registry.add_repo_token(OWNER, self.gitea_token)

    # paths ---------------------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def config_path(self) -> Path:
        return self.directory / "deckhand.yaml"

    @property
    def registry_env(self) -> Path:
        return self.directory / "registry.env"

    @property
    def seed_path(self) -> Path:
        return self.directory / "seed.json"

    def repository(self, service: str) -> str:
        return f"{self.registry.host}/{OWNER}/honeydue-{service}"

    def source_url(self, service: str) -> str:
        """The service's git repository on the sandbox Gitea (its web URL)."""
        return f"{self.registry.url}/{OWNER}/honeydue-{service}"

    # lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.registry.__aenter__()
        try:
            await self.cluster.start()
            self._seed_registry()
            self._seed_cluster()
            await self.wait_ready()
            self._write_files()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        try:
            await self.cluster.stop()
        finally:
            await self.registry.__aexit__(None, None, None)

    # seeding -------------------------------------------------------------------------

    def _seed_registry(self) -> None:
        start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        for service in SERVICES:
            repo = f"{OWNER}/honeydue-{service.name}"
            git = self.registry.git.create(OWNER, f"honeydue-{service.name}")
            seed_history(
                git,
                service.name,
                tags=[_sha(service.name, n) for n in range(6)],
                previous=_sha(service.name, "previous"),
                released=[start + timedelta(days=n) for n in range(6)],
            )
            self._seed_tag(
                repo,
                service.name,
                "previous",
                service.previous,
                [AMD64],
                start - timedelta(days=2),
            )
            for n, tag in enumerate(service.good):
                self._seed_tag(repo, service.name, n, tag, [AMD64], start + timedelta(days=n))
            n = len(service.good)
            self._seed_tag(
                repo, service.name, n, service.arm64_only, [ARM64], start + timedelta(days=n)
            )
            self._seed_tag(
                repo,
                service.name,
                n + 1,
                service.multi_arch,
                [AMD64, ARM64],
                start + timedelta(days=n + 1),
            )

    def _seed_tag(
        self,
        repo: str,
        service: str,
        n: int | str,
        tag: str,
        platforms: list[Platform],
        created: datetime,
    ) -> None:
        labels = {
            "org.opencontainers.image.revision": _sha(service, n),
            "org.opencontainers.image.source": f"{self.registry.url}/{OWNER}/honeydue-{service}",
        }
        image = build_image(platforms=platforms, labels=labels, created=created, salt=repo + tag)
        self.registry.seed(repo, tag, image)

    def push(
        self,
        service: str,
        tag: str,
        *,
        platforms: list[Platform] | None = None,
        creator: str = "alice",
        revision: str | None = None,
    ) -> str:
        """Push a new image of `service` as `tag` (the `docker buildx … --push` of the
        demo): a new package version, so Gitea's webhooks go out. Returns its digest."""
        repo = f"{OWNER}/honeydue-{service}"
        labels = {
            "org.opencontainers.image.revision": revision or (tag + "0" * 40)[:40],
            "org.opencontainers.image.source": f"{self.registry.url}/{repo}",
        }
        image = build_image(
            platforms=platforms or [AMD64],
            labels=labels,
            created=self.registry.store.clock(),
            salt=f"push:{repo}:{tag}",
        )
        return self.registry.seed(repo, tag, image, creator=creator)

    @staticmethod
    def revision(service: str, tag: str) -> str | None:
        """The full git SHA behind a seeded tag (its commit is in the sandbox Gitea)."""
        for n in (*range(6), "previous"):
            if _sha(service, n).startswith(tag):
                return _sha(service, n)
        return None

    def pull_secret(self) -> dict[str, Any]:
        """The `kubernetes.io/dockerconfigjson` Secret the pods pull with."""
        auth = base64.b64encode(f"{OWNER}:{self.token}".encode()).decode()
        config = {
            "auths": {self.registry.host: {"username": OWNER, "password": self.token, "auth": auth}}
        }
        payload = base64.b64encode(json.dumps(config).encode()).decode()
        return {
            "metadata": {"name": PULL_SECRET},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": payload},
        }

    def _seed_cluster(self) -> None:
        store = self.cluster.store
        for namespace in (*ENVIRONMENTS.values(), DECKHAND_NAMESPACE):
            store.create(NAMESPACES, {"metadata": {"name": namespace}})
        for namespace in ENVIRONMENTS.values():
            store.create(SECRETS, self.pull_secret(), namespace=namespace)
            for service in SERVICES:
                store.create(DEPLOYMENTS, self.deployment(service), namespace=namespace)

    def deployment(self, service: SeedService, *, tag: str | None = None) -> dict[str, Any]:
        labels = {"app": service.name, "app.kubernetes.io/part-of": "honeydue"}
        image = f"{self.repository(service.name)}:{tag or service.current}"
        strategy: dict[str, Any] = (
            {"type": "Recreate"}
            if service.recreate
            else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        )
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": service.name, "labels": labels},
            "spec": {
                "replicas": service.replicas,
                "selector": {"matchLabels": {"app": service.name}},
                "strategy": strategy,
                "progressDeadlineSeconds": 600,
                "template": {
                    "metadata": {"labels": labels, **_template_notes(service.name)},
                    "spec": {
                        "imagePullSecrets": [{"name": PULL_SECRET}],
                        "containers": [
                            {"name": service.name, "image": image, **_probes(service.name)}
                        ],
                    },
                },
            },
        }

    async def wait_ready(self) -> None:
        """Until every seeded Deployment is available (deadline: `ready_timeout_s`)."""
        changes = self.cluster.store.subscribe()
        try:
            async with asyncio.timeout(self.ready_timeout_s):
                while self._unavailable():
                    await changes.get()
        except TimeoutError:
            stuck = ", ".join(self._unavailable())
            raise SandboxNotReady(
                f"the seeded Deployments did not become available within "
                f"{self.ready_timeout_s:g} s: {stuck}"
            ) from None
        finally:
            self.cluster.store.unsubscribe(changes)

    def _unavailable(self) -> list[str]:
        stuck = []
        for namespace in ENVIRONMENTS.values():
            for service in SERVICES:
                obj = self.cluster.store.get(DEPLOYMENTS, namespace, service.name)
                available = obj.get("status", {}).get("availableReplicas", 0)
                if available < service.replicas:
                    stuck.append(f"{namespace}/{service.name} ({available}/{service.replicas})")
        return stuck

    # files ---------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """A Deckhand config for this sandbox (validated against the real schema)."""
        everyone = {"users": [REQUESTER, APPROVER], "usergroups": [DEVS_GROUP]}
        config: dict[str, Any] = {
            "services": {
                s.name: {
                    "image": self.repository(s.name),
                    "deployments": [{"name": s.name, "container": s.name}],
                    **({"max_replicas": 1} if s.recreate else {}),
                    "source_url": self.source_url(s.name),
                }
                for s in SERVICES
            },
            "groups": {"all": [s.name for s in SERVICES]},
            "default_environment": "staging",
            "environments": {
                "staging": {
                    "namespace": ENVIRONMENTS["staging"],
                    "aliases": ["stage", "stg"],
                    "channels": [CHANNEL],
                    "deployers": everyone,
                    "protected": False,
                    "pull_secret": PULL_SECRET,
                    "alert_channel": ALERT_CHANNEL,
                },
                "prod": {
                    "namespace": ENVIRONMENTS["prod"],
                    "aliases": ["production", "prd"],
                    "channels": [CHANNEL],
                    "deployers": everyone,
                    "protected": True,
                    "approvals": {
                        "required": 1,
                        "approvers": {"users": [APPROVER], "usergroups": [APPROVERS_GROUP]},
                        "expiry_minutes": 30,
                    },
                    "auto_rollback": True,
                    "pull_secret": PULL_SECRET,
                    "alert_channel": ALERT_CHANNEL,
                },
            },
            "tag_policy": {"pattern": "^[0-9a-f]{7,40}$", "platform": "linux/amd64"},
            "rollout": {"readiness_timeout_s": 60, "max_duration_s": 300},
            "alerts": {"channel": ALERT_CHANNEL, "grace_s": 5},
            "deckhand": {"namespace": DECKHAND_NAMESPACE},
        }
        for name in self.auto_deploy:
            config["environments"][name]["auto_deploy"] = True
        DeckhandConfig.model_validate(config)  # the sandbox must never write a bad config
        return config

    def seed(self) -> dict[str, Any]:
        return {
            "registry": {"url": self.registry.url, "host": self.registry.host, "user": OWNER},
            "cluster": {"url": self.cluster.url, "speed": self.speed},
            "environments": ENVIRONMENTS,
            "services": {
                s.name: {
                    "repository": self.repository(s.name),
                    "replicas": s.replicas,
                    "current": s.current,
                    "good": list(s.good),
                    "arm64_only": s.arm64_only,
                    "multi_arch": s.multi_arch,
                    "previous": s.previous,
                    "source_url": self.source_url(s.name),
                    "tags": {
                        **{t: ["linux/amd64"] for t in s.good},
                        s.arm64_only: ["linux/arm64/v8"],
                        s.multi_arch: ["linux/amd64", "linux/arm64/v8"],
                        s.previous: ["linux/amd64"],
                    },
                }
                for s in SERVICES
            },
        }

    def _write_files(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cluster.write_kubeconfig(self.kubeconfig, namespace=ENVIRONMENTS["staging"])
        self.config_path.write_text(
            "# Written by `deckhand sandbox env`: Deckhand's config for the sandbox.\n"
            + yaml.safe_dump(self.config(), sort_keys=False),
            encoding="utf-8",
        )
        self.registry_env.write_text(
            f"DECKHAND_REGISTRY_USERNAME={OWNER}\nDECKHAND_REGISTRY_TOKEN={self.token}\n"
            f"DECKHAND_GITEA_TOKEN={self.gitea_token}\n",
            encoding="utf-8",
        )
        self.registry_env.chmod(0o600)
        self.seed_path.write_text(json.dumps(self.seed(), indent=2) + "\n", encoding="utf-8")
