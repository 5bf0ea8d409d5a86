"""Which username and token Deckhand presents to which registry.

Two sources, from `RegistrySettings`: a username + token used for every registry, or a
dockerconfigjson file (the pods' pull secret) whose `auths` map hosts to credentials,
either as `auth` (base64 of `user:password`) or as `username` / `password`. Checking
with the pull secret itself answers "will the nodes be able to pull?" most faithfully.

A `Credentials` never shows its secret: not in `repr`, `str` or an error message.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.settings import RegistrySettings

# Docker Hub is written many ways in docker configs.
_DOCKER_HUB = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)


class CredentialsError(ValueError):
    """The docker config cannot be used; the message names the file, never its content."""


@dataclass(frozen=True)
class Credentials:
    """A username and its token or password. The secret stays out of every repr."""

    username: str
    secret: SecretStr = field(repr=False)

    def basic(self) -> str:
        """The value of an `Authorization: Basic …` header."""
        raw = f"{self.username}:{self.secret.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def __str__(self) -> str:
        return f"{self.username}:***"


def normalize_host(host: str) -> str:
    """`https://Index.Docker.io/v1/` -> `docker.io`; `gitea.x:443` stays `gitea.x:443`."""
    text = host.strip()
    if "://" in text:
        text = urlsplit(text).netloc
    text = text.split("/", 1)[0].lower()
    return "docker.io" if text in _DOCKER_HUB else text


class CredentialStore:
    """Looks up credentials by registry host (`registry` of an `ImageReference`)."""

    def __init__(
        self,
        by_host: Mapping[str, Credentials] | None = None,
        *,
        default: Credentials | None = None,
    ) -> None:
        self._by_host = {normalize_host(h): c for h, c in (by_host or {}).items()}
        self._default = default

    def for_registry(self, registry: str) -> Credentials | None:
        return self._by_host.get(normalize_host(registry), self._default)

    def __repr__(self) -> str:
        return f"CredentialStore(hosts={sorted(self._by_host)}, default={self._default!r})"

    @classmethod
    def from_settings(cls, settings: RegistrySettings) -> CredentialStore:
        """The docker config when one is set, else username + token for every registry."""
        if settings.docker_config is not None:
            return cls.from_docker_config(settings.docker_config)
        if settings.username and settings.token is not None:
            return cls(default=Credentials(settings.username, settings.token))
        return cls()

    @classmethod
    def from_docker_config(cls, path: Path) -> CredentialStore:
        """Read a dockerconfigjson (`.dockerconfigjson` or `~/.docker/config.json`)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CredentialsError(f"cannot read docker config {path}: {exc.strerror}") from None
        except ValueError:
            raise CredentialsError(f"docker config {path} is not JSON") from None
        return cls(parse_docker_config(data, source=str(path)))


def parse_docker_config(data: object, *, source: str = "docker config") -> dict[str, Credentials]:
    """`{"auths": {host: {"auth": b64} | {"username", "password"}}}` -> credentials by host.

    Pure. Entries without usable credentials (e.g. only `identitytoken`) are skipped.
    """
    if not isinstance(data, dict) or not isinstance(data.get("auths", {}), dict):
        raise CredentialsError(f"{source} has no `auths` object")
    result: dict[str, Credentials] = {}
    for host, entry in data.get("auths", {}).items():
        if not isinstance(entry, dict):
            continue
        username, password = entry.get("username"), entry.get("password")
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                decoded = base64.b64decode(entry["auth"], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise CredentialsError(
                    f"{source}: the `auth` of {host} is not base64 of user:password"
                ) from None
            username, sep, password = decoded.partition(":")
            if not sep:
                raise CredentialsError(f"{source}: the `auth` of {host} has no `:`")
        if isinstance(username, str) and isinstance(password, str) and username:
            result[normalize_host(host)] = Credentials(username, SecretStr(password))
    return result
