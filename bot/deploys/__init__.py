"""Deckhand's deploy front-end on Slack: `/deploy` text → authorized action → one message.

router.py       DeckhandBackend (the `DeployBackend`): parse, validate, authorize, act
deploy_flow.py  one deploy/rollback = one channel message, resume, late reports
render.py       DeployCard → Block Kit (pure)
answers.py      status / history / tags answers (pure)
(built by the composition root, `bot/app.py`)
"""
