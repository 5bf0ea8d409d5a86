"""The Gitea API boundary's errors: why there are no change notes.

Every failure of a Gitea request leaves `bot.gitea` as one of these; nothing from
aiohttp crosses the boundary (the original is kept as `__cause__`). `sentence()` is one
clause for `texts.no_change_notes`, safe for chat: never a token or a response body.

    GiteaError                   any failed request; .sentence()
    ├── GiteaTokenMissing        no DECKHAND_GITEA_TOKEN configured
    ├── GiteaAuthFailed          401: the token is wrong, expired or revoked
    ├── GiteaForbidden           403: the token lacks `read:repository`
    ├── GiteaNotFound            404: no such repository (for this token) or revision
    ├── GiteaTimeout             no answer within the deadline
    └── GiteaUnavailable         refused, DNS, TLS, 5xx, 429 or an unreadable answer
"""

from __future__ import annotations

from commands import texts


class GiteaError(Exception):
    """A Gitea request failed. `sentence()` is what a person is told."""

    def sentence(self) -> str:
        return texts.changes_unavailable(texts.gitea_unreadable("answer"))

    def __str__(self) -> str:
        return self.sentence()


class GiteaTokenMissing(GiteaError):
    def sentence(self) -> str:
        return texts.changes_no_token()


class GiteaAuthFailed(GiteaError):
    def sentence(self) -> str:
        return texts.changes_token_refused()


class GiteaForbidden(GiteaError):
    def sentence(self) -> str:
        return texts.changes_token_scope()


class GiteaNotFound(GiteaError):
    def __init__(self, repository: str) -> None:
        super().__init__(repository)
        self.repository = repository

    def sentence(self) -> str:
        return texts.changes_not_found(self.repository)


class GiteaTimeout(GiteaError):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds

    def sentence(self) -> str:
        return texts.changes_timeout(self.seconds)


class GiteaUnavailable(GiteaError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def sentence(self) -> str:
        return texts.changes_unavailable(self.detail)
