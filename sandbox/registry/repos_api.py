"""Gitea's repository API, the part Deckhand reads, over `repos.RepoStore`.

Shapes and rules copied from Gitea (`routers/api/v1/repo/{compare,commits,repo}.go`,
`services/convert/git_commit.go`, `modules/structs/repo_commit.go`):

- `GET /api/v1/repos/{owner}/{repo}`: the repository (Deckhand's doctor reads it).
- `GET …/compare/{base}...{head}` (also `..`): `{"total_commits", "commits"}`, the
  commits of `git log base..head`, newest first; unrelated histories give 0 commits
  and 200; an unknown ref 404. `old_compare = True` is Gitea before 1.23 (PR #32801):
  a commit SHA (not a branch) as base or head answers 404.
- `GET …/commits?sha=&limit=&page=&not=`: `git log SHA` paged (limit default 30, at
  most 50), headers `X-Total-Count`, `Link` (next/last/first/prev), `X-Page`,
  `X-PerPage`, `X-Total`, `X-PageCount`, `X-HasMore`; an unknown `sha` 404 (500 in
  `old_compare` mode, as Gitea 1.21's `GetCommit` error path).
- `GET …/git/commits/{sha}`: one commit; 422 for what is not a ref, 404 if unknown.
- Commits as `api.Commit`: `sha`, `url`, `created`, `html_url`, `commit.{url, author,
  committer, message, tree, verification}`, top-level `author`/`committer` (a Gitea user,
  null when the e-mail is nobody's), `parents[]` (`url`, `sha`, zero `created`),
  `files[]`, `stats`.
- Auth: `Authorization: token|Bearer <PAT>` or Basic. The scope check comes first:
  a token without `read:repository` (a registry `read:package` PAT) gets 403
  `token does not have at least one of required scope(s): [read:repository]`, even
  for a repository that does not exist; an unknown token 401; no credentials, or a
  user who may not read the repository, 404 for a private one (Gitea hides it).

Test controls on `ReposApi`: `old_compare`, `delay_s` (every answer waits that long:
a slow Gitea; released at shutdown; `holding` counts the answers held now), and the
registry's `fail_next(match="/api/v1/repos")`.
"""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sandbox.registry.repos import Commit, GitRepository, RepoStore
from sandbox.registry.store import RegistryStore, User

READ_REPOSITORY = "read:repository"
_ROUTE = re.compile(
    r"^/api/v1/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
    r"(?:/(?P<kind>compare|commits|git/commits)(?:/(?P<ref>.+))?)?/?$"
)
_REF = re.compile(r"^[A-Za-z0-9._/-]+$")
_ZERO = "0001-01-01T00:00:00Z"
_DEFAULT_LIMIT, _MAX_LIMIT = 30, 50


def _iso(commit: Commit) -> str:
    return commit.date.strftime("%Y-%m-%dT%H:%M:%SZ")


class ReposApi:
    """The HTTP face of `RepoStore` (see the module docstring)."""

    def __init__(self, store: RepoStore, packages: RegistryStore) -> None:
        self.store = store
        self._packages = packages
        self.old_compare = False
        self.delay_s = 0.0
        self.holding = 0
        """How many answers the slow mode is holding back right now."""
        self._released = asyncio.Event()

    def release(self) -> None:
        """Let every delayed answer go now (shutdown)."""
        self._released.set()

    # HTTP -------------------------------------------------------------------------------

    async def handle(self, request: web.Request, *, base_url: str) -> web.Response:
        if self.delay_s > 0:
            self.holding += 1
            try:
                async with asyncio.timeout(self.delay_s):
                    await self._released.wait()
            except TimeoutError:
                pass
            finally:
                self.holding -= 1
        if request.method not in ("GET", "HEAD"):
            return web.json_response({"message": "method not allowed"}, status=405)
        match = _ROUTE.match(request.path)
        if match is None:
            return _not_found(base_url)
        denied, user = self._authenticate(request, base_url)
        if denied is not None:
            return denied
        repo = self.store.get(match["owner"], match["repo"])
        if repo is None or not self._may_read(user, repo):
            return _not_found(base_url)
        kind, ref = match["kind"], match["ref"] or ""
        shapes = _Shapes(repo, base_url, request.query)
        if kind is None:
            return web.json_response(shapes.repository())
        if kind == "compare":
            return self._compare(repo, ref, shapes, base_url)
        if kind == "commits" and not ref:
            return self._commits(repo, request, shapes, base_url)
        if kind == "git/commits" and ref:
            if not _REF.match(ref):
                return web.json_response({"message": f"no valid ref or sha: {ref}"}, status=422)
            found = repo.resolve(ref)
            if found is None:
                return _not_found(base_url)
            return web.json_response(shapes.commit(found))
        return _not_found(base_url)

    def _authenticate(
        self, request: web.Request, base_url: str
    ) -> tuple[web.Response | None, User | None]:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if not scheme:
            return None, None
        token = value.strip()
        if scheme.lower() == "basic":
            try:
                token = base64.b64decode(value).decode().partition(":")[2]
            except ValueError:
                token = ""
        elif scheme.lower() not in ("token", "bearer"):
            token = ""
        if token in self.store.tokens:
            name, scopes = self.store.tokens[token]
        elif token in self._packages.tokens:
            # a registry PAT: read:package (and write:package), no repository scope
            name, scopes = self._packages.tokens[token], frozenset({"read:package"})
        else:
            return _json(401, "user does not exist [uid: 0, name: ]", base_url), None
        if READ_REPOSITORY not in scopes and "write:repository" not in scopes:
            text = f"token does not have at least one of required scope(s): [{READ_REPOSITORY}]"
            return _json(403, text, base_url), None
        return None, self._packages.users.get(name) or User(name, site_admin=False)

    @staticmethod
    def _may_read(user: User | None, repo: GitRepository) -> bool:
        if not repo.private:
            return True
        if user is None:
            return False
        return user.site_admin or user.name == repo.owner or repo.owner in user.owners

    def _compare(
        self, repo: GitRepository, basehead: str, shapes: _Shapes, base_url: str
    ) -> web.Response:
        base_ref, sep, head_ref = basehead.partition("...")
        if not sep:
            base_ref, sep, head_ref = basehead.partition("..")
        if not sep:
            base_ref, head_ref = repo.default_branch, basehead
        if self.old_compare and (base_ref not in repo.branches or head_ref not in repo.branches):
            return _not_found(base_url)
        base, head = repo.resolve(base_ref), repo.resolve(head_ref)
        if base is None or head is None:
            return _not_found(base_url)
        commits = repo.compare(base.sha, head.sha)
        return web.json_response(
            {"total_commits": len(commits), "commits": [shapes.commit(c) for c in commits]}
        )

    def _commits(
        self, repo: GitRepository, request: web.Request, shapes: _Shapes, base_url: str
    ) -> web.Response:
        query = request.query
        page = max(_int(query.get("page"), 1), 1)
        limit = _int(query.get("limit"), _DEFAULT_LIMIT)
        limit = _DEFAULT_LIMIT if limit <= 0 else min(limit, _MAX_LIMIT)
        start = repo.resolve(query.get("sha") or repo.default_branch)
        if start is None:
            if self.old_compare:
                return _json(500, "GetCommit", base_url)
            return _not_found(base_url)
        history = repo.log(start.sha)
        excluded = repo.resolve(query["not"]) if query.get("not") else None
        if excluded is not None:
            hidden = repo.ancestry(excluded.sha)
            history = [c for c in history if c.sha not in hidden]
        total = len(history)
        pages = -(-total // limit)
        chunk = history[(page - 1) * limit : page * limit]
        headers = {
            "X-Total-Count": str(total),
            "X-Page": str(page),
            "X-PerPage": str(limit),
            "X-Total": str(total),
            "X-PageCount": str(pages),
            "X-HasMore": "true" if page < pages else "false",
        }
        link = _link_header(f"{base_url}{request.path}", dict(query), page, pages, limit)
        if link:
            headers["Link"] = link
        return web.json_response([shapes.commit(c) for c in chunk], headers=headers)


class _Shapes:
    """Gitea's JSON for one repository's objects (`services/convert`)."""

    def __init__(self, repo: GitRepository, base_url: str, query: Any) -> None:
        self.repo = repo
        self.api = f"{base_url}/api/v1/repos/{repo.full_name}"
        self.html = f"{base_url}/{repo.full_name}"
        self.files = query.get("files", "true") != "false"
        self.stat = query.get("stat", "true") != "false"
        self.verification = query.get("verification", "true") != "false"

    def repository(self) -> dict[str, Any]:
        return {
            "id": abs(hash(self.repo.full_name)) % 10_000,
            "owner": {"id": 1, "login": self.repo.owner},
            "name": self.repo.name,
            "full_name": self.repo.full_name,
            "private": self.repo.private,
            "empty": not self.repo.commits,
            "default_branch": self.repo.default_branch,
            "html_url": self.html,
            "permissions": {"admin": False, "push": False, "pull": True},
        }

    def commit(self, c: Commit) -> dict[str, Any]:
        person = {"name": c.author.name, "email": c.author.email, "date": _iso(c)}
        url = f"{self.api}/git/commits/{c.sha}"
        body: dict[str, Any] = {
            "url": url,
            "sha": c.sha,
            "created": _iso(c),
            "html_url": f"{self.html}/commit/{c.sha}",
            "commit": {
                "url": url,
                "author": person,
                "committer": person,
                "message": c.message,
                "tree": {"url": f"{self.api}/git/trees/{c.sha}", "sha": c.sha, "created": _iso(c)},
            },
            "author": None,  # the seeded authors' e-mails belong to no Gitea user
            "committer": None,
            "parents": [
                {"url": f"{self.api}/git/commits/{p}", "sha": p, "created": _ZERO}
                for p in c.parents
            ],
        }
        if self.verification:
            body["commit"]["verification"] = {
                "verified": False,
                "reason": "gpg.error.not_signed_commit",
                "signature": "",
                "signer": None,
                "payload": "",
            }
        if self.files:
            body["files"] = [{"filename": f, "status": "modified"} for f in c.files]
        if self.stat:
            changed = 4 * max(len(c.files), 1)
            body["stats"] = {"total": changed, "additions": changed // 2, "deletions": changed // 2}
        return body


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _link_header(url: str, query: dict[str, str], page: int, pages: int, limit: int) -> str:
    """Gitea's `SetLinkHeader`: next and last after this page, first and prev before it."""

    def at(n: int) -> str:
        return f"<{url}?{urlencode({**query, 'page': str(n), 'limit': str(limit)})}>"

    links = []
    if page < pages:
        links += [f'{at(page + 1)}; rel="next"', f'{at(pages)}; rel="last"']
    if page > 1:
        links += [f'{at(1)}; rel="first"', f'{at(page - 1)}; rel="prev"']
    return ",".join(links)


def _json(status: int, message: str, base_url: str) -> web.Response:
    return web.json_response({"message": message, "url": f"{base_url}/api/swagger"}, status=status)


def _not_found(base_url: str) -> web.Response:
    body = {
        "errors": [],
        "message": "The target couldn't be found.",
        "url": f"{base_url}/api/swagger",
    }
    return web.json_response(body, status=404)
