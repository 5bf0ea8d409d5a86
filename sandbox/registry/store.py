"""The sandbox registry's state: users and tokens, repositories, manifests, blobs.

In memory, synchronous, no HTTP: `gitea.py` is the HTTP face over it. Names and tags
are stored lowercased, as Gitea does. Access follows Gitea's package rules: an owner's
packages are private unless the owner is made public; a user reads their own owner's
packages (a site admin reads everything) and only with a token that has `read:package`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandbox.registry.images import (
    DOCKER_LIST,
    OCI_INDEX,
    BuiltImage,
    sha256_digest,
)


class StoreError(Exception):
    """A registry error with its distribution-spec code and HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def manifest_unknown() -> StoreError:
    return StoreError(404, "MANIFEST_UNKNOWN", "manifest unknown")


def name_unknown() -> StoreError:
    return StoreError(404, "NAME_UNKNOWN", "repository name not known to registry")


def blob_unknown() -> StoreError:
    return StoreError(404, "BLOB_UNKNOWN", "blob unknown to registry")


@dataclass
class User:
    name: str
    can_read: bool = True  # the token carries `read:package`
    can_write: bool = True  # the token carries `write:package`
    site_admin: bool = False
    owners: set[str] = field(default_factory=set)  # organisations whose packages it reads


@dataclass(frozen=True)
class StoredManifest:
    media_type: str
    body: bytes
    created: datetime
    creator: str

    @property
    def digest(self) -> str:
        return sha256_digest(self.body)


@dataclass
class Repository:
    owner: str
    image: str
    tags: dict[str, str] = field(default_factory=dict)  # tag -> manifest digest
    tag_created: dict[str, datetime] = field(default_factory=dict)
    manifests: dict[str, StoredManifest] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.owner}/{self.image}"


class RegistryStore:
    """Users, tokens and content. Every method is synchronous and side-effect local."""

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}  # personal access token -> user name
        self.blobs: dict[str, bytes] = {}
        self.repos: dict[str, Repository] = {}
        self.public_owners: set[str] = set()
        self.on_version: list[Callable[[Repository, str, StoredManifest, datetime], None]] = []
        """Told of every package version created (Gitea's `notify.PackageCreate`): a new
        tag, or a new untagged manifest (`sha256:…`, a multi-arch push's children)."""

    # users and tokens -------------------------------------------------------------------

    def add_user(self, name: str, token: str, **flags: bool) -> User:
        user = self.users.get(name.lower()) or User(name.lower())
        for key, value in flags.items():
            setattr(user, key, value)
        self.users[user.name] = user
        self.tokens[token] = user.name
        return user

    def revoke_token(self, token: str) -> None:
        self.tokens.pop(token, None)

    def user_for(self, username: str, token: str) -> User | None:
        """The user a Basic `username:token` pair authenticates, or None."""
        name = self.tokens.get(token)
        if name is None or name != username.lower():
            return None
        return self.users.get(name)

    def can_read(self, user: User | None, owner: str) -> bool:
        if user is not None and not user.can_read:
            return False
        if owner in self.public_owners:
            return True
        if user is None:
            return False
        return user.site_admin or user.name == owner or owner in user.owners

    def can_write(self, user: User | None, owner: str) -> bool:
        if user is None or not user.can_write:
            return False
        return user.site_admin or user.name == owner or owner in user.owners

    # content ----------------------------------------------------------------------------

    def repo(self, name: str, *, create: bool = False) -> Repository | None:
        key = name.lower()
        found = self.repos.get(key)
        if found is None and create:
            owner, _, image = key.partition("/")
            found = self.repos[key] = Repository(owner, image)
        return found

    def get_manifest(self, name: str, reference: str) -> StoredManifest:
        """By tag or digest; unknown image or reference -> MANIFEST_UNKNOWN, as Gitea."""
        repo = self.repo(name)
        if repo is None:
            raise manifest_unknown()
        digest = reference if reference.startswith("sha256:") else repo.tags.get(reference.lower())
        if digest is None or digest not in repo.manifests:
            raise manifest_unknown()
        return repo.manifests[digest]

    def put_manifest(
        self, name: str, reference: str, body: bytes, media_type: str, *, creator: str
    ) -> str:
        """Validate and store; returns the digest. Children and blobs must exist first."""
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise StoreError(400, "MANIFEST_INVALID", "manifest is not JSON") from exc
        if not isinstance(parsed, dict):
            raise StoreError(400, "MANIFEST_INVALID", "manifest is not an object")
        media_type = media_type or str(parsed.get("mediaType", ""))
        repo = self.repo(name, create=True)
        assert repo is not None
        if media_type in (OCI_INDEX, DOCKER_LIST):
            for child in parsed.get("manifests", []):
                if child.get("digest") not in repo.manifests:
                    raise StoreError(404, "MANIFEST_BLOB_UNKNOWN", "manifest blob unknown")
        else:
            needed = [parsed.get("config", {}), *parsed.get("layers", [])]
            for desc in needed:
                if desc.get("digest") not in self.blobs:
                    raise blob_unknown()
        return self.put_raw_manifest(name, reference, body, media_type, creator=creator)

    def put_raw_manifest(
        self, name: str, reference: str, body: bytes, media_type: str, *, creator: str = "admin"
    ) -> str:
        """Store bytes as a manifest without validating them (tests: malformed manifests)."""
        repo = self.repo(name, create=True)
        assert repo is not None
        now = self.clock()
        stored = StoredManifest(media_type, body, now, creator)
        created: str | None = None
        if reference.startswith("sha256:"):
            created = None if stored.digest in repo.manifests else stored.digest
        elif reference.lower() not in repo.tags:
            created = reference.lower()  # a moved tag updates its version: no event
        repo.manifests[stored.digest] = stored
        if not reference.startswith("sha256:"):
            repo.tags[reference.lower()] = stored.digest
            repo.tag_created.setdefault(reference.lower(), now)
        if created is not None:
            for listener in self.on_version:
                listener(repo, created, stored, now)
        return stored.digest

    def delete_tag(self, name: str, tag: str) -> None:
        repo = self.repo(name)
        if repo is not None:
            repo.tags.pop(tag.lower(), None)
            repo.tag_created.pop(tag.lower(), None)

    def tag_list(self, name: str, *, n: int | None, last: str) -> list[str]:
        """Gitea: sorted by lowercased tag, strictly after `last`, at most `n`."""
        repo = self.repo(name)
        if repo is None:
            raise name_unknown()
        tags = sorted(t for t in repo.tags if t > last.lower())
        return tags if n is None else tags[: max(n, 0)]

    def seed(self, name: str, tag: str, image: BuiltImage, *, creator: str = "admin") -> str:
        """Store a built image in-process (no HTTP); returns the digest `tag` points to."""
        self.blobs.update(image.blobs)
        for manifest in image.children:
            self.put_manifest(
                name, manifest.digest, manifest.body, manifest.media_type, creator=creator
            )
        return self.put_manifest(name, tag, image.top.body, image.top.media_type, creator=creator)

    def versions(
        self, owner: str, query: str
    ) -> list[tuple[Repository, str, StoredManifest, datetime]]:
        """Package versions of `owner` whose name contains `query`, newest first.

        Like Gitea, each tag is a version and so is each untagged manifest (by digest).
        """
        rows: list[tuple[Repository, str, StoredManifest, datetime]] = []
        for repo in self.repos.values():
            if repo.owner != owner.lower() or query.lower() not in repo.image:
                continue
            tagged = set(repo.tags.values())
            for tag, digest in repo.tags.items():
                rows.append((repo, tag, repo.manifests[digest], repo.tag_created[tag]))
            for digest, manifest in repo.manifests.items():
                if digest not in tagged:
                    rows.append((repo, digest, manifest, manifest.created))
        rows.sort(key=lambda row: row[3], reverse=True)
        return rows

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(16)
