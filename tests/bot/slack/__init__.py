"""Tests of the Slack plumbing (bot/slack, bot/http.py, bot/run.py)."""
