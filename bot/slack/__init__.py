"""Deckhand on Slack: the Bolt app, the live progress message, and the request
contexts handed to the back end (`contexts.py`)."""
