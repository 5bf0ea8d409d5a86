"""Which Slack user groups a user belongs to, from `usergroups.users.list`, cached with a TTL.

    groups = UserGroups(client, ttl_s=300)
    member_of = await groups.member_of("U0ALICE001", among=("S0DEVS0001", "S0LEADS001"))

Authorization (`commands.authz.authorize`) needs "is this user in one of the groups
the config names", and `usergroups.users.list` (scope `usergroups:read`, Tier 2:
about 20 calls a minute) answers it one group at a time. So each group's members are
fetched at most once per `ttl_s` and shared by every request. Contract:

- `member_of` asks only about the groups in `among` (the ones the config names);
- a group whose lookup fails (no scope, unknown group, Slack down after retries) is
  treated as *not containing the user*: deny by default. A stale cached answer is used
  instead of failing when there is one (a group rarely changes while Slack is down);
  the failure is logged with the group id, never a token;
- concurrent lookups of one group share a single call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.client import SlackError, slack_call

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Entry:
    members: frozenset[str]
    fetched_at: float


class UserGroups:
    """The members of Slack user groups, cached for `ttl_s` seconds (see the module doc)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Future[frozenset[str]]] = {}
        self.calls = 0
        """How many `usergroups.users.list` calls were made (for tests and budgets)."""

    async def member_of(self, user: str, *, among: Iterable[str]) -> frozenset[str]:
        """The groups of `among` that contain `user` (unknown or failing groups: not)."""
        found: set[str] = set()
        for group in dict.fromkeys(among):
            if user in await self.members(group):
                found.add(group)
        return frozenset(found)

    async def members(self, group: str) -> frozenset[str]:
        """The members of `group`, from the cache while it is fresh."""
        entry = self._cache.get(group)
        if entry is not None and self._clock() - entry.fetched_at < self._ttl_s:
            return entry.members
        pending = self._inflight.get(group)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[frozenset[str]] = asyncio.get_running_loop().create_future()
        self._inflight[group] = future
        try:
            members = await self._fetch(group, stale=entry)
            future.set_result(members)
            return members
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: waiters get it, nobody else must log it
            raise
        finally:
            del self._inflight[group]

    async def _fetch(self, group: str, *, stale: _Entry | None) -> frozenset[str]:
        self.calls += 1
        try:
            response = await slack_call(
                "usergroups.users.list", self._client.usergroups_users_list(usergroup=group)
            )
        except SlackError as e:
            if stale is not None:
                log.warning("user group %s: lookup failed (%s); using the cached members", group, e)
                return stale.members
            log.warning("user group %s: lookup failed (%s); treated as empty", group, e)
            return frozenset()
        users = response.get("users") or []
        members = frozenset(str(u) for u in users if isinstance(u, str))
        self._cache[group] = _Entry(members, self._clock())
        return members

    def forget(self) -> None:
        """Drop every cached group (the next lookups ask Slack again)."""
        self._cache.clear()
