"""Deploys, rollbacks and restarts: one channel message each, from request to verdict.

deploy_flow.py   one deploy/rollback/restart = one channel message, resume, late reports
render.py        DeployCard → Block Kit (pure)
read_answers.py  the answers to the read-only commands: status / history / tags (pure)
(the chat commands that start them are `bot/chat.py`; built by `bot/app.py`)
"""
