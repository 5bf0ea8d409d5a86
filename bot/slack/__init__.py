"""Deckhand on Slack: the Bolt app, the live progress message, the handler seam."""
