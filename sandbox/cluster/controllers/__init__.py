"""Controllers of the sandbox cluster (Deployment, ReplicaSet, kubelet stand-in).

STUB: does nothing yet; helper B replaces this module. The interface the server
relies on: `Controllers(store, clock)`, `await start()`, `await stop()`.
"""

from __future__ import annotations

from sandbox.cluster.clock import Clock
from sandbox.cluster.store import Store


class Controllers:
    """The set of controllers that run beside the API server."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def start(self) -> None:
        """Start the controllers' tasks (none yet)."""

    async def stop(self) -> None:
        """Stop them and wait until they have ended."""
