"""The kubelet stand-in's image puller against real registries, and its containerd texts.

Covers, against the sandbox Gitea registry: a pull (digest, size, platform, entry
point), a multi-arch index (the node's platform is chosen), an arm64-only index on
an amd64 node (`no match for platform in manifest`), an arm64 single manifest (pulled:
containerd does not check it), a missing tag (`X: not found`), a revoked token and
wrong credentials (Bearer: `failed to fetch oauth token ... 401 Unauthorized`), no
credentials for a private image (`pulling from host ... 401 Unauthorized`), a
stopped registry (`connection refused`), a host off the machine (`no such host`,
nothing sent), several credentials tried in turn; against the real CNCF registry
with token auth (skipped loudly without the binary): Accept negotiation and
`access_token`. Plus pull-secret parsing (pure).
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from commands.images import ImageReference
from sandbox.cluster.controllers import puller as p
from sandbox.cluster.imageref import Platform
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import build_image, push_image
from tests.fixtures.registry import ADMIN_TOKEN, DistributionRegistry

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
ADMIN = p.RegistryAuth("admin", ADMIN_TOKEN)


@pytest.fixture
async def registry() -> AsyncIterator[GiteaRegistry]:
    async with GiteaRegistry(users={"admin": ADMIN_TOKEN}) as reg:
        yield reg


@pytest.fixture
async def puller() -> AsyncIterator[p.ImagePuller]:
    resolver = p.ImagePuller(timeout=5.0)
    await resolver.start()
    yield resolver
    await resolver.close()


def ref(registry: GiteaRegistry | str, tag: str, repo: str = "admin/api") -> ImageReference:
    host = registry if isinstance(registry, str) else registry.host
    return ImageReference.parse(f"{host}/{repo}:{tag}")


async def failure(
    puller: p.ImagePuller,
    image: ImageReference,
    *,
    auths: tuple[p.RegistryAuth, ...] = (ADMIN,),
    platform: Platform = AMD64,
) -> p.PullError:
    with pytest.raises(p.PullError) as caught:
        await puller.pull(image, platform=platform, auths=auths)
    return caught.value


async def test_pull_reports_digest_size_platform_and_entrypoint(
    registry: GiteaRegistry, puller: p.ImagePuller
) -> None:
    image = build_image(labels={"org.opencontainers.image.revision": "1a2b3c4"})
    digest = registry.seed("admin/api", "1a2b3c4", image)
    got = await puller.pull(ref(registry, "1a2b3c4"), platform=AMD64, auths=[ADMIN])
    assert got.digest == got.manifest_digest == digest
    assert got.reference == f"{registry.host}/admin/api:1a2b3c4"
    assert got.repo_digest == f"{registry.host}/admin/api@{digest}"
    assert got.platform == AMD64
    assert got.command == ("/bin/true",)
    manifest = json.loads(image.top.body)
    assert got.size == len(image.top.body) + manifest["config"]["size"] + sum(
        layer["size"] for layer in manifest["layers"]
    )


async def test_multi_arch_index_picks_the_nodes_platform(
    registry: GiteaRegistry, puller: p.ImagePuller
) -> None:
    image = build_image(platforms=[ARM64, AMD64])
    registry.seed("admin/api", "multi", image)
    got = await puller.pull(ref(registry, "multi"), platform=AMD64, auths=[ADMIN])
    amd = next(c for c in image.children if c.platform == AMD64)
    assert (got.digest, got.manifest_digest, got.platform) == (image.digest, amd.digest, AMD64)
    on_arm = await puller.pull(ref(registry, "multi"), platform=ARM64, auths=[ADMIN])
    assert on_arm.platform == ARM64


async def test_arm64_images_on_an_amd64_node(
    registry: GiteaRegistry, puller: p.ImagePuller
) -> None:
    registry.seed("admin/api", "arm-index", build_image(platforms=[ARM64], index=True))
    registry.seed("admin/api", "arm-single", build_image(platforms=[ARM64]))
    error = await failure(puller, ref(registry, "arm-index"))
    name = f"{registry.host}/admin/api:arm-index"
    assert (error.kind, str(error)) == (
        p.PLATFORM,
        (
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{name}": '
            "no match for platform in manifest: not found"
        ),
    )
    # A single-platform manifest is not checked by containerd: it pulls, and runs badly.
    single = await puller.pull(ref(registry, "arm-single"), platform=AMD64, auths=[ADMIN])
    assert single.platform == ARM64


async def test_missing_tag_is_not_found(registry: GiteaRegistry, puller: p.ImagePuller) -> None:
    registry.seed("admin/api", "1a2b3c4", build_image())
    error = await failure(puller, ref(registry, "0000000"))
    name = f"{registry.host}/admin/api:0000000"
    assert (error.kind, error.code) == (p.NOT_FOUND, "NotFound")
    assert str(error) == (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{name}": '
        f'failed to resolve reference "{name}": {name}: not found'
    )


async def test_revoked_token_and_wrong_password_fail_at_the_token_endpoint(
    registry: GiteaRegistry, puller: p.ImagePuller
) -> None:
    registry.seed("admin/api", "1a2b3c4", build_image())
    name = f"{registry.host}/admin/api:1a2b3c4"
    expected = (
        f'rpc error: code = Unknown desc = failed to pull and unpack image "{name}": '
        f'failed to resolve reference "{name}": failed to authorize: failed to fetch oauth '
        f"token: unexpected status from GET request to {registry.url}/v2/token?"
        "scope=repository%3Aadmin%2Fapi%3Apull&service=container_registry: 401 Unauthorized"
    )
    wrong = await failure(
        puller, ref(registry, "1a2b3c4"), auths=(p.RegistryAuth("admin", "not-the-token"),)
    )
    assert (wrong.kind, str(wrong)) == (p.UNAUTHORIZED, expected)
    registry.revoke_token(ADMIN_TOKEN)
    revoked = await failure(puller, ref(registry, "1a2b3c4"))
    assert (revoked.kind, str(revoked)) == (p.UNAUTHORIZED, expected)
    assert ADMIN_TOKEN not in str(revoked)


async def test_private_image_without_credentials(
    registry: GiteaRegistry, puller: p.ImagePuller
) -> None:
    registry.seed("admin/api", "1a2b3c4", build_image())
    error = await failure(puller, ref(registry, "1a2b3c4"), auths=())
    assert error.kind == p.UNAUTHORIZED
    assert str(error).endswith(
        f"pulling from host {registry.host} failed with status code [manifests 1a2b3c4]: "
        "401 Unauthorized"
    )


async def test_each_credential_is_tried_in_turn(
    registry: GiteaRegistry, puller: p.ImagePuller
) -> None:
    registry.seed("admin/api", "1a2b3c4", build_image())
    bad = p.RegistryAuth("admin", "stale")
    got = await puller.pull(ref(registry, "1a2b3c4"), platform=AMD64, auths=[bad, ADMIN])
    assert got.platform == AMD64
    both_bad = await failure(puller, ref(registry, "1a2b3c4"), auths=(bad, bad))
    assert str(both_bad).startswith("[rpc error: code = Unknown desc = ")
    assert str(both_bad).count("401 Unauthorized") == 2


async def test_stopped_registry_refuses_connections(puller: p.ImagePuller) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    host = f"127.0.0.1:{port}"
    error = await failure(puller, ref(host, "1a2b3c4"))
    assert error.kind == p.UNREACHABLE
    assert str(error).endswith(
        f'failed to do request: Head "http://{host}/v2/admin/api/manifests/1a2b3c4": '
        f"dial tcp {host}: connect: connection refused"
    )


async def test_hosts_off_the_machine_are_never_contacted(puller: p.ImagePuller) -> None:
    error = await failure(puller, ref("gitea.example.com", "1a2b3c4"))
    assert error.kind == p.UNREACHABLE
    assert str(error).endswith("dial tcp: lookup gitea.example.com: no such host")


async def test_real_distribution_registry_with_token_auth(
    distribution_registry_token: DistributionRegistry, puller: p.ImagePuller
) -> None:
    registry = distribution_registry_token
    image = build_image(platforms=[AMD64, ARM64])  # an OCI index: needs the Accept types
    digest = await push_image(
        registry.url, image, "team/api", "1a2b3c4", username="admin", token=ADMIN_TOKEN
    )
    got = await puller.pull(
        ref(registry.host, "1a2b3c4", "team/api"), platform=AMD64, auths=[ADMIN]
    )
    assert got.digest == digest
    assert got.platform == AMD64
    missing = await failure(puller, ref(registry.host, "nope", "team/api"))
    assert missing.kind == p.NOT_FOUND


def secret(auths: dict[str, Any], kind: str = p.DOCKERCONFIGJSON) -> dict[str, Any]:
    blob = base64.b64encode(json.dumps({"auths": auths}).encode()).decode()
    return {"type": kind, "data": {".dockerconfigjson": blob}}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_keyring_from_pull_secrets() -> None:
    keyring = p.keyring_from_secrets(
        [
            secret({"https://gitea.example.com/v2/": {"auth": b64("alice:pat1")}}),
            secret({"gitea.example.com/team": {"username": "bob", "password": "pat2"}}),
            secret({"other.example": {"auth": b64("carol:pat3")}}, kind="Opaque"),
            {"type": p.DOCKERCONFIGJSON, "data": {".dockerconfigjson": "not base64 json"}},
            secret({"broken.example": {"auth": "%%%"}}),
        ]
    )
    assert keyring == [
        ("gitea.example.com", p.RegistryAuth("alice", "pat1")),
        ("gitea.example.com/team", p.RegistryAuth("bob", "pat2")),
    ]
    team = ImageReference.parse("gitea.example.com/team/api:1")
    assert p.credentials_for(keyring, team) == [
        p.RegistryAuth("bob", "pat2"),
        p.RegistryAuth("alice", "pat1"),
    ]
    assert p.credentials_for(keyring, ImageReference.parse("gitea.example.com/x/y:1")) == [
        p.RegistryAuth("alice", "pat1")
    ]
    assert p.credentials_for(keyring, ImageReference.parse("gitea.example.community/x:1")) == []
    assert "pat1" not in repr(keyring)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            [
                'Bearer realm="http://r/v2/token",service="container_registry",scope="*"',
                'Basic realm="Gitea Container Registry"',
            ],
            [
                (
                    "bearer",
                    {"realm": "http://r/v2/token", "service": "container_registry", "scope": "*"},
                ),
                ("basic", {"realm": "Gitea Container Registry"}),
            ],
        ),
        (["Basic realm=plain"], [("basic", {"realm": "plain"})]),
    ],
)
def test_challenges_from_every_header(headers: list[str], expected: list[Any]) -> None:
    assert p.parse_challenges(headers) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b:v1"),
        ("r.example/a/b:v1@sha256:" + "a" * 64, "r.example/a/b@sha256:" + "a" * 64),
    ],
)
def test_containerd_reference(text: str, expected: str) -> None:
    assert p.containerd_ref(ImageReference.parse(text)) == expected
