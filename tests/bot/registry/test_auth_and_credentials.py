"""Pure pieces of the registry boundary: challenges, credentials, URLs, Retry-After, manifests.

Table-driven: `WWW-Authenticate` parsing (several headers, several challenges per
header, quoted commas, escapes), docker config parsing (`auth` or username/password,
Docker Hub spellings), secrets hidden from repr, HTTPS vs plain HTTP, Retry-After
forms, and manifest / config parsing.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.registry.auth import Challenge, parse_challenges
from bot.registry.credentials import (
    Credentials,
    CredentialsError,
    CredentialStore,
    normalize_host,
    parse_docker_config,
)
from bot.registry.errors import MalformedManifest
from bot.registry.manifests import ImageManifest, Index, parse_config, parse_manifest
from bot.registry.transport import Transport, is_loopback, retry_after_s
from bot.settings import RegistrySettings
from commands.images import Platform, parse
from sandbox.registry.images import build_image


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            ['Bearer realm="http://g/v2/token",service="container_registry",scope="*"', "Basic"],
            [
                Challenge(
                    "bearer",
                    {"realm": "http://g/v2/token", "service": "container_registry", "scope": "*"},
                ),
                Challenge("basic"),
            ],
        ),
        (
            ['Bearer realm="https://a/token",scope="repository:x/y:pull,push", Basic realm="r"'],
            [
                Challenge(
                    "bearer", {"realm": "https://a/token", "scope": "repository:x/y:pull,push"}
                ),
                Challenge("basic", {"realm": "r"}),
            ],
        ),
        (
            ['Bearer realm="x",error="insufficient_scope",scope="repository:a:pull"'],
            [
                Challenge(
                    "bearer",
                    {"realm": "x", "error": "insufficient_scope", "scope": "repository:a:pull"},
                )
            ],
        ),
        (['Basic realm="Gitea Package API"'], [Challenge("basic", {"realm": "Gitea Package API"})]),
        (
            ['BASIC Realm = "a \\"quoted\\" realm"'],
            [Challenge("basic", {"realm": 'a "quoted" realm'})],
        ),
        (
            ["Bearer realm=unquoted, service=s"],
            [Challenge("bearer", {"realm": "unquoted", "service": "s"})],
        ),
        ([""], []),
        ([], []),
        (["=garbage, Basic"], [Challenge("garbage"), Challenge("basic")]),
    ],
)
def test_parse_challenges(headers: list[str], expected: list[Challenge]) -> None:
    assert parse_challenges(headers) == expected


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_docker_config_forms() -> None:
    data = {
        "auths": {
            "https://index.docker.io/v1/": {"auth": _b64("hub:hubpass")},
            "gitea.example.com": {"username": "deploy", "password": "p:with:colons"},
            "ghcr.io": {"auth": _b64("gh:tok:en")},
            "identity.only": {"identitytoken": "x"},
        }
    }
    creds = parse_docker_config(data)
    assert set(creds) == {"docker.io", "gitea.example.com", "ghcr.io"}
    assert creds["ghcr.io"].secret.get_secret_value() == "tok:en"
    assert creds["gitea.example.com"].secret.get_secret_value() == "p:with:colons"
    store = CredentialStore(creds)
    assert store.for_registry("docker.io") == creds["docker.io"]
    assert store.for_registry("elsewhere.io") is None


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "no `auths`"),
        ({"auths": []}, "no `auths`"),
        ({"auths": {"h": {"auth": "%%%"}}}, "not base64"),
        ({"auths": {"h": {"auth": _b64("nocolon")}}}, "has no `:`"),
    ],
)
def test_docker_config_errors(data: object, fragment: str) -> None:
    with pytest.raises(CredentialsError, match=fragment):
        parse_docker_config(data)


def test_docker_config_file_errors_never_show_content(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"h": {"auth": "c2VjcmV0"}} oops')
    with pytest.raises(CredentialsError) as info:
        CredentialStore.from_docker_config(path)
    assert "c2VjcmV0" not in str(info.value)
    with pytest.raises(CredentialsError, match="cannot read"):
        CredentialStore.from_docker_config(tmp_path / "missing.json")


def test_settings_choose_the_source(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"r.io": {"auth": _b64("u:p")}}}))
    from_file = CredentialStore.from_settings(RegistrySettings(docker_config=path))
    assert from_file.for_registry("r.io") == Credentials("u", SecretStr("p"))
    plain = CredentialStore.from_settings(RegistrySettings(username="u", token=SecretStr("t")))
    assert plain.for_registry("any.io") == Credentials("u", SecretStr("t"))
    assert CredentialStore.from_settings(RegistrySettings()).for_registry("r.io") is None


def test_credentials_hide_the_secret() -> None:
    creds = Credentials("deploy", SecretStr("very-secret"))
    for text in (repr(creds), str(creds), repr(CredentialStore(default=creds))):
        assert "very-secret" not in text
    assert creds.basic() == "Basic " + _b64("deploy:very-secret")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("https://Index.Docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("gitea.example.com:443", "gitea.example.com:443"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("::1", True),
        ("gitea.example.com", False),
        ("10.0.0.1:5000", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_base_url_scheme() -> None:
    import aiohttp

    settings = RegistrySettings(insecure_registries=["registry.lan:5000"])
    async with aiohttp.ClientSession() as session:
        transport = Transport(settings, session, CredentialStore())
        assert transport.base_url("gitea.example.com") == "https://gitea.example.com"
        assert transport.base_url("docker.io") == "https://registry-1.docker.io"
        assert transport.base_url("127.0.0.1:5000") == "http://127.0.0.1:5000"
        assert transport.base_url("registry.lan:5000") == "http://registry.lan:5000"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        ("0.5", 0.5),
        (None, None),
        ("", None),
        ("soon", None),
        ("Wed, 21 Oct 2026 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after_s(value, now=now) == expected


REF = parse("r.io/a/b:t")


def test_parse_manifest_and_index() -> None:
    image = build_image(platforms=[Platform("linux", "amd64"), Platform("linux", "arm64")])
    index = parse_manifest(REF, image.top.body, None)
    assert isinstance(index, Index)
    assert [c.platform for c in index.children] == image.platforms
    child = parse_manifest(REF, image.children[0].body, "ignored")
    assert isinstance(child, ImageManifest)
    config = image.blobs[child.config_digest]
    parsed = parse_config(REF, config)
    assert parsed.platform == Platform("linux", "amd64")
    assert parsed.created == datetime(2026, 1, 1, tzinfo=UTC)


def test_attestations_are_not_platforms() -> None:
    body = json.dumps(
        {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
                {
                    "digest": "sha256:b",
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
                },
            ],
        }
    ).encode()
    index = parse_manifest(REF, body, None)
    assert isinstance(index, Index)
    assert [c.digest for c in index.children] == ["sha256:a"]


def test_config_without_labels_or_date() -> None:
    config = parse_config(REF, b'{"os": "linux", "architecture": "amd64", "created": "junk"}')
    assert (config.created, dict(config.labels)) == (None, {})
    with pytest.raises(MalformedManifest):
        parse_config(REF, b"nope")
