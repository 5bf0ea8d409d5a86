"""Registry checks: will the nodes be able to pull the image? See `client.RegistryClient`."""

from bot.registry.client import RegistryClient
from bot.registry.credentials import Credentials, CredentialStore
from bot.registry.errors import (
    AccessDenied,
    AuthenticationFailed,
    InvalidReference,
    MalformedManifest,
    PlatformNotAvailable,
    RegistryError,
    RegistryUnavailable,
    RepositoryNotFound,
    TagNotFound,
)
from bot.registry.manifests import ImageVerdict

__all__ = [
    "AccessDenied",
    "AuthenticationFailed",
    "CredentialStore",
    "Credentials",
    "ImageVerdict",
    "InvalidReference",
    "MalformedManifest",
    "PlatformNotAvailable",
    "RegistryClient",
    "RegistryError",
    "RegistryUnavailable",
    "RepositoryNotFound",
    "TagNotFound",
]
