"""`HelpOnlyBackend`: the stand-in `DeployBackend` until the rollout engine is wired.

It answers `/deploy help` (and a bare `/deploy`) with a short usage text and every
other command or button with "not wired yet", both ephemerally. `deckhand run` uses it
unless a real backend factory is injected (`bot.run.run(..., open_backend=...)`).
"""

from __future__ import annotations

from bot.slack.seam import ActionContext, CommandContext
from commands import texts


class HelpOnlyBackend:
    """A `DeployBackend` that only knows `help` (see the module docstring)."""

    async def handle_command(self, request: CommandContext) -> None:
        if request.text.lower() in ("", "help"):
            await request.replier.ephemeral(texts.placeholder_help())
        else:
            await request.replier.ephemeral(texts.not_wired())

    async def handle_action(self, action: ActionContext) -> None:
        await action.replier.ephemeral(texts.not_wired())
