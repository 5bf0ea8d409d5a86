"""The sandbox API server's `Date` header: the cluster's (scaled) clock, in Go's format.

Covers: every answer (discovery, a resource, an error) carries `Date` as RFC 1123
GMT with whole seconds, taken from the cluster's clock, so at speed 100 it runs ahead
of the wall clock as the objects' timestamps do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from sandbox.cluster.server import SandboxCluster


async def test_date_header_is_the_clusters_clock() -> None:
    async with SandboxCluster(speed=100.0, controllers=False) as cluster:
        await cluster.clock.sleep(120)  # 1.2 wall seconds: two scaled minutes ahead
        async with aiohttp.ClientSession() as http:
            for path in ("/version", "/api/v1/namespaces/default", "/api/v1/namespaces/nope"):
                async with http.get(cluster.url + path) as response:
                    text = response.headers["Date"]
                    assert text.endswith(" GMT")
                    said = parsedate_to_datetime(text)
                    now = cluster.clock.now()
                    assert abs((now - said).total_seconds()) <= 2, (path, text)
                    assert (said - datetime.now(UTC)).total_seconds() >= 100
