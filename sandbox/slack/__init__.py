"""A local Slack: the Web API (`LocalSlack`) and Slack's request side (`SlackSender`)."""

from sandbox.slack.sender import SlackSender
from sandbox.slack.web_api import LocalSlack

__all__ = ["LocalSlack", "SlackSender"]
