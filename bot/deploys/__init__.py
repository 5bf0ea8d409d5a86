"""Deckhand's deploy front-end on Slack: `/deploy` text → authorized action → one message.

router.py       DeckhandBackend (the `DeployBackend`): parse, validate, authorize, act
deploy_flow.py  one deploy/rollback = one channel message, resume, late reports
operations.py   the rollout engine and the registry, as the front-end calls them
render.py       DeployCard → Block Kit (pure)
answers.py      status / history / tags answers (pure)
usergroups.py   Slack user-group members, cached with a TTL
runtime.py      open_deploy_backend for `deckhand run`
"""
