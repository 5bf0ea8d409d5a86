"""Deckhand's Kubernetes boundary: a typed client, its errors, and a resilient watch."""
