"""Deckhand's Kubernetes boundary: a typed client, its errors, and a resilient watch."""

from bot.kube import lean

# Before anything imports kubernetes-asyncio: load its generated code lazily (see lean.py).
lean.install()
