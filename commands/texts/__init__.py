"""Every sentence Deckhand says to a person, in one place.

Short, specific, actionable: what happened, why, and the next command or fix. Names,
tags and commands are wrapped in backticks; people, groups and channels are Slack
mentions (`<@U…>`, `<!subteam^S…>`, `<#C…>`, built by `user()` / `usergroup()`).

Sections: usage and help, the grammar (parse errors), validation, authorization,
diagnosis, rollout progress, planning, then the front-ends' messages (deploy cards,
answers, image-pull alerts). Functions take the facts and return a string; they are
purely computational functions with no side-effects.
"""

# One place, split by area; callers use `from commands import texts; texts.NAME(...)`.
from commands.texts._format import did_you_mean  # noqa: F401
from commands.texts.alerts import *  # noqa: F403
from commands.texts.approvals import *  # noqa: F403
from commands.texts.authorization import *  # noqa: F403
from commands.texts.changes import *  # noqa: F403
from commands.texts.cli import *  # noqa: F403
from commands.texts.delivery import *  # noqa: F403
from commands.texts.deploys import *  # noqa: F403
from commands.texts.diagnosis import *  # noqa: F403
from commands.texts.doctor import *  # noqa: F403
from commands.texts.drift import *  # noqa: F403
from commands.texts.grammar import *  # noqa: F403
from commands.texts.home import *  # noqa: F403
from commands.texts.planning import *  # noqa: F403
from commands.texts.probes import *  # noqa: F403
from commands.texts.progress import *  # noqa: F403
from commands.texts.rollout import *  # noqa: F403
from commands.texts.slack import *  # noqa: F403
from commands.texts.usage import *  # noqa: F403
from commands.texts.validation import *  # noqa: F403
