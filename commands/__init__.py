"""The chat grammar and Deckhand's pure decisions.

Everything here is computation: text in, frozen typed values out; (request, config,
state) in, a plan out. No I/O and no imports from `bot`, `sandbox`, Slack, Kubernetes
or aiohttp (enforced by import-linter, see pyproject.toml).
"""
