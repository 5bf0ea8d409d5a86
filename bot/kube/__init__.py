"""Deckhand's Kubernetes boundary: a typed client, its errors, and a resilient watch."""

from bot.kube import lazy_import

# Before anything imports kubernetes-asyncio: load its generated code lazily (see lazy_import.py).
lazy_import.install()
