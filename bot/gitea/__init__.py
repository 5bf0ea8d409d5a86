"""Change notes from Gitea: `client.GiteaClient` (the API), `notes.ChangeNotesReader`."""

from bot.gitea.client import GiteaClient
from bot.gitea.errors import (
    GiteaAuthFailed,
    GiteaError,
    GiteaForbidden,
    GiteaNotFound,
    GiteaTimeout,
    GiteaTokenMissing,
    GiteaUnavailable,
)
from bot.gitea.notes import ChangeNotesReader
from commands.changes import Revisions

__all__ = [
    "ChangeNotesReader",
    "GiteaAuthFailed",
    "GiteaClient",
    "GiteaError",
    "GiteaForbidden",
    "GiteaNotFound",
    "GiteaTimeout",
    "GiteaTokenMissing",
    "GiteaUnavailable",
    "Revisions",
]
