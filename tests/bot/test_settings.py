"""Settings from the environment: list parsing, secrets hidden, the registry token read
from a mounted file (Kubernetes secret volumes), KUBECONFIG honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings


def test_registry_token_comes_from_a_mounted_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-from-a-volume\n")
    monkeypatch.setenv("DECKHAND_REGISTRY_USERNAME", "deckhand")
    monkeypatch.setenv("DECKHAND_REGISTRY_TOKEN_FILE", str(token_file))
    monkeypatch.delenv("DECKHAND_REGISTRY_TOKEN", raising=False)
    registry = Settings.from_env().registry()
    assert registry.username == "deckhand"
    assert registry.token is not None
    assert registry.token.get_secret_value() == "s3cret-from-a-volume"
    assert "s3cret" not in repr(registry)


def test_an_env_token_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file")
    monkeypatch.setenv("DECKHAND_REGISTRY_TOKEN", "from-env")
    monkeypatch.setenv("DECKHAND_REGISTRY_TOKEN_FILE", str(token_file))
    token = Settings.from_env().registry().token
    assert token is not None
    assert token.get_secret_value() == "from-env"


def test_insecure_registries_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECKHAND_INSECURE_REGISTRIES", "registry.lan:5000, 10.0.0.5 ,")
    assert Settings.from_env().insecure_registries == ["registry.lan:5000", "10.0.0.5"]


def test_kubectls_kubeconfig_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DECKHAND_KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBECONFIG", "/tmp/kc:/tmp/other")
    settings = Settings.from_env()
    assert settings.kubeconfig_env == "/tmp/kc:/tmp/other"  # a list, as kubectl reads it
    assert settings.kubeconfig is None  # DECKHAND_KUBECONFIG (a single file) is not set
    monkeypatch.setenv("DECKHAND_KUBECONFIG", "")
    monkeypatch.setenv("KUBECONFIG", "")
    assert (Settings.from_env().kubeconfig, Settings.from_env().kubeconfig_env) == (None, None)
