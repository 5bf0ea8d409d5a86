"""Process settings: everything Deckhand reads from its environment, in one place.

Built once at start-up (`Settings.from_env()`), then passed explicitly to whatever
needs a part of it. No other module reads `os.environ`. The team's deploy policy
(services, environments, approvals) is not here: it lives in the YAML config file
(`bot/config.py` loads it into `commands.config` models); this object only says where
that file is.

Secrets (`SLACK_BOT_TOKEN`, `DECKHAND_REGISTRY_TOKEN`, …) are `SecretStr`: they never
show in a repr, a log line or an error message. A `*_FILE` variant reads a mounted
file instead (Kubernetes secret volumes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class RegistrySettings(BaseModel):
    """How Deckhand talks to container registries."""

    username: str | None = Field(None, description="registry user (env DECKHAND_REGISTRY_USERNAME)")
    token: SecretStr | None = Field(
        None, description="registry token or password (env DECKHAND_REGISTRY_TOKEN)"
    )
    docker_config: Path | None = Field(
        None,
        description="a dockerconfigjson file (the pods' pull secret) used instead of user/token",
    )
    insecure_registries: list[str] = Field(
        default_factory=list,
        description="hosts (host[:port]) reached over plain HTTP; loopback always is",
    )
    timeout_s: float = Field(10.0, description="deadline for one registry request, seconds")
    retry_backoff_s: list[float] = Field(
        default_factory=lambda: [0.5, 1.0, 2.0],
        description="waits between retries of a failed request (5xx, connection), seconds",
    )
    max_retry_after_s: float = Field(
        30.0, description="longest Retry-After (429/503) honoured before giving up, seconds"
    )


class Settings(BaseSettings):
    """Deckhand's environment. Every field documents its variable, unit and default."""

    model_config = SettingsConfigDict(
        env_prefix="DECKHAND_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    config: Path = Field(
        Path("deckhand.yaml"), description="the YAML config file (env DECKHAND_CONFIG)"
    )
    registry_username: str | None = Field(None, description="env DECKHAND_REGISTRY_USERNAME")
    registry_token: SecretStr | None = Field(None, description="env DECKHAND_REGISTRY_TOKEN")
    registry_token_file: Path | None = Field(
        None, description="file holding the registry token (env DECKHAND_REGISTRY_TOKEN_FILE)"
    )
    registry_docker_config: Path | None = Field(
        None, description="dockerconfigjson file (env DECKHAND_REGISTRY_DOCKER_CONFIG)"
    )
    insecure_registries: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated hosts reached over plain HTTP (env DECKHAND_INSECURE_REGISTRIES)",
    )
    registry_timeout_s: float = Field(10.0, description="seconds (env DECKHAND_REGISTRY_TIMEOUT_S)")

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            raw = data.get("insecure_registries")
            if isinstance(raw, str):
                data["insecure_registries"] = [h.strip() for h in raw.split(",") if h.strip()]
        return data

    def registry(self) -> RegistrySettings:
        """The registry part, with a `*_FILE` token read from its mounted file."""
        token = self.registry_token
        if token is None and self.registry_token_file is not None:
            token = SecretStr(self.registry_token_file.read_text(encoding="utf-8").strip())
        return RegistrySettings(
            username=self.registry_username,
            token=token,
            docker_config=self.registry_docker_config,
            insecure_registries=self.insecure_registries,
            timeout_s=self.registry_timeout_s,
        )

    @classmethod
    def from_env(cls) -> Settings:
        return cls()
