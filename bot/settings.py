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

import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
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


class GiteaSettings(BaseModel):
    """How Deckhand reads commits from Gitea for change notes (optional)."""

    token: SecretStr | None = Field(
        None, description="a Gitea token with read:repository (env DECKHAND_GITEA_TOKEN)"
    )
    deadline_s: float = Field(
        3.0,
        gt=0,
        description="the most change notes may add to a deploy, all requests together, seconds",
    )
    page_size: int = Field(50, ge=1, le=50, description="commits per page of the fallback walk")
    max_pages: int = Field(4, ge=1, description="pages the fallback walk reads at most")


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
    registry_username: str | None = Field(
        None, description="registry user for the pre-deploy checks (env DECKHAND_REGISTRY_USERNAME)"
    )
    registry_token: SecretStr | None = Field(
        None,
        description="registry token (Gitea: a PAT with read:package) (env DECKHAND_REGISTRY_TOKEN)",
    )
    registry_token_file: Path | None = Field(
        None, description="file holding the registry token (env DECKHAND_REGISTRY_TOKEN_FILE)"
    )
    registry_docker_config: Path | None = Field(
        None, description="dockerconfigjson file (env DECKHAND_REGISTRY_DOCKER_CONFIG)"
    )
    insecure_registries: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated hosts reached over plain HTTP"
        " (env DECKHAND_INSECURE_REGISTRIES)",
    )
    registry_timeout_s: float = Field(
        10.0,
        description="deadline for one registry request, seconds (env DECKHAND_REGISTRY_TIMEOUT_S)",
    )

    gitea_token: SecretStr | None = Field(
        None,
        description="Gitea token with read:repository, for change notes; unset: no change"
        " notes (env DECKHAND_GITEA_TOKEN)",
    )
    gitea_token_file: Path | None = Field(
        None, description="file holding the Gitea token (env DECKHAND_GITEA_TOKEN_FILE)"
    )
    gitea_deadline_s: float = Field(
        3.0,
        gt=0,
        description="change notes never delay a deploy longer than this, seconds"
        " (env DECKHAND_GITEA_DEADLINE_S)",
    )

    gitea_webhook_secret: SecretStr | None = Field(
        None,
        description="the Gitea package webhook's secret; unset: `POST /hooks/gitea` refuses"
        " every delivery (env DECKHAND_GITEA_WEBHOOK_SECRET)",
    )
    gitea_webhook_secret_file: Path | None = Field(
        None, description="file holding that secret (env DECKHAND_GITEA_WEBHOOK_SECRET_FILE)"
    )
    gitea_webhook_max_age_s: float = Field(
        300.0,
        gt=0,
        description="a webhook for a version created longer ago (or later) than this is"
        " refused as stale, seconds (env DECKHAND_GITEA_WEBHOOK_MAX_AGE_S)",
    )
    packages_poll_interval_s: float = Field(
        60.0,
        ge=0,
        description="how often the leader polls Gitea's packages API for new tags, one"
        " request per owner; 0: off (env DECKHAND_PACKAGES_POLL_INTERVAL_S)",
    )
    auto_deploy_interval_s: float = Field(
        5.0,
        gt=0,
        description="how often the leader retries auto-deploys held by a lock, a freeze or"
        " a deploy in flight, seconds (env DECKHAND_AUTO_DEPLOY_INTERVAL_S)",
    )

    # Slack. The three credentials keep Slack's own variable names (no DECKHAND_ prefix).
    slack_bot_token: SecretStr | None = Field(
        None,
        validation_alias="SLACK_BOT_TOKEN",
        description="bot token xoxb-… (env SLACK_BOT_TOKEN)",
    )
    slack_signing_secret: SecretStr | None = Field(
        None,
        validation_alias="SLACK_SIGNING_SECRET",
        description="verifies HTTP-mode requests (env SLACK_SIGNING_SECRET)",
    )
    slack_app_token: SecretStr | None = Field(
        None,
        validation_alias="SLACK_APP_TOKEN",
        description="app-level token xapp-…; set: Socket Mode, unset: HTTP mode"
        " (env SLACK_APP_TOKEN)",
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (env DECKHAND_SLACK_API_URL)"
    )
    slack_timeout_s: float = Field(
        10.0,
        description="deadline for one Slack Web API call, seconds (env DECKHAND_SLACK_TIMEOUT_S)",
    )
    slack_max_retries: int = Field(
        4,
        description="retries of a 429/5xx/connection failure per call"
        " (env DECKHAND_SLACK_MAX_RETRIES)",
    )
    slack_retry_backoff_s: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 4.0, 8.0],
        description="waits before retries of a 5xx/connection failure, seconds; the last repeats"
        " (env DECKHAND_SLACK_RETRY_BACKOFF_S, JSON list)",
    )
    slack_max_retry_after_s: float = Field(
        30.0,
        description="longest Retry-After honoured on a 429 before giving up, seconds"
        " (env DECKHAND_SLACK_MAX_RETRY_AFTER_S)",
    )
    slack_update_interval_s: float = Field(
        1.0,
        description="at most one chat.update per live message per interval, seconds"
        " (env DECKHAND_SLACK_UPDATE_INTERVAL_S)",
    )
    slack_socket_stale_s: float = Field(
        30.0,
        gt=0,
        description="a Socket Mode connection without a pong or message for this long is"
        " rebuilt, seconds (env DECKHAND_SLACK_SOCKET_STALE_S)",
    )
    slack_finish_timeout_s: float = Field(
        120.0,
        description="deadline for delivering a live message's final state, seconds"
        " (env DECKHAND_SLACK_FINISH_TIMEOUT_S)",
    )
    kube_retry_backoff_s: list[float] = Field(
        default_factory=lambda: [0.2, 0.5, 1.0, 2.0, 5.0],
        min_length=1,
        description="waits between attempts while the Kubernetes API can't be reached (a"
        " rollout's watches, its record and lock writes), seconds; the last repeats"
        " (env DECKHAND_KUBE_RETRY_BACKOFF_S, JSON list)",
    )
    kubeconfig: Path | None = Field(
        None,
        # Only this name: an alias `kubeconfig` would also match kubectl's KUBECONFIG
        # (environment names are case-insensitive).
        validation_alias=AliasChoices("DECKHAND_KUBECONFIG"),
        description="kubeconfig file Deckhand uses, first of all (env DECKHAND_KUBECONFIG);"
        " unset: KUBECONFIG, else in-cluster, else ~/.kube/config (bot.kube.config)",
    )
    kubeconfig_env: str | None = Field(
        None,
        validation_alias=AliasChoices("KUBECONFIG"),
        description="kubectl's KUBECONFIG: colon-separated kubeconfig files, merged (the"
        " first file wins per cluster/context/user); used when DECKHAND_KUBECONFIG is unset",
    )
    report_retry_interval_s: float = Field(
        60.0,
        description="how often undelivered final deploy reports and refused announcements are"
        " retried, seconds"
        " (env DECKHAND_REPORT_RETRY_INTERVAL_S)",
    )
    approval_expiry_interval_s: float = Field(
        15.0,
        gt=0,
        description="how often the leader expires unanswered approval requests, seconds"
        " (env DECKHAND_APPROVAL_EXPIRY_INTERVAL_S)",
    )
    http_listen: str = Field(
        "0.0.0.0:3000",
        description="host:port of the HTTP server (Slack events, /healthz, /readyz)"
        " (env DECKHAND_HTTP_LISTEN)",
    )
    shutdown_grace_s: float = Field(
        10.0,
        description="after SIGTERM, how long cancelled work may take to wrap up, seconds"
        " (env DECKHAND_SHUTDOWN_GRACE_S)",
    )
    pod_name: str = Field(
        default_factory=socket.gethostname,
        description="this replica's name, the leader Lease's holderIdentity; default: the"
        " hostname (env DECKHAND_POD_NAME, from the downward API)",
    )
    leader_lease_duration_s: float = Field(
        15.0, description="leader Lease duration, seconds (env DECKHAND_LEADER_LEASE_DURATION_S)"
    )
    leader_renew_deadline_s: float = Field(
        10.0,
        description="a leader that could not renew for this long stops leading, seconds"
        " (env DECKHAND_LEADER_RENEW_DEADLINE_S)",
    )
    leader_retry_period_s: float = Field(
        2.0,
        description="between leader election attempts and renewals, seconds"
        " (env DECKHAND_LEADER_RETRY_PERIOD_S)",
    )
    task_restart_backoff_s: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 5.0, 10.0, 30.0],
        description="waits before a failed long-lived task (leader election, metrics) is"
        " restarted, seconds; the last repeats, and a task that ran a minute starts over"
        " (env DECKHAND_TASK_RESTART_BACKOFF_S, JSON list)",
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        description="log lines as JSON objects (one per line) or plain text"
        " (env DECKHAND_LOG_FORMAT)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="lowest level logged (env DECKHAND_LOG_LEVEL)"
    )
    metrics_interval_s: float = Field(
        15.0,
        description="how often the approvals-pending and alerts-open gauges are counted"
        " from the cluster, seconds (env DECKHAND_METRICS_INTERVAL_S)",
    )

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _log_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @field_validator("kubeconfig", "kubeconfig_env", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `KUBECONFIG=` (exported empty) means unset to kubectl, not the current directory.
        return None if isinstance(value, str) and not value.strip() else value

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

    def gitea(self) -> GiteaSettings:
        """The Gitea part, with a `*_FILE` token read from its mounted file."""
        token = self.gitea_token
        if token is None and self.gitea_token_file is not None:
            token = SecretStr(self.gitea_token_file.read_text(encoding="utf-8").strip())
        return GiteaSettings(token=token, deadline_s=self.gitea_deadline_s)

    def webhook_secret(self) -> str:
        """The Gitea webhook secret ('' when none: every delivery is refused)."""
        if self.gitea_webhook_secret is not None:
            return self.gitea_webhook_secret.get_secret_value()
        if self.gitea_webhook_secret_file is not None:
            return self.gitea_webhook_secret_file.read_text(encoding="utf-8").strip()
        return ""

    @classmethod
    def from_env(cls) -> Settings:
        return cls()
