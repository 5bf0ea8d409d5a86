"""Tests of the Slack plumbing (bot/slack, bot/http.py, bot/app.py's Slack front door)."""
