"""`HelpOnlyBackend`: the stand-in `DeployBackend` until the rollout engine is wired.

It answers `/deploy help` (and a bare `/deploy`) with a short usage text and every
other command or button with "not wired yet", both ephemerally. `deckhand run` uses it
unless a real backend factory is injected (`bot.run.run(..., open_backend=...)`).
"""

from __future__ import annotations

from bot.slack.seam import ActionContext, CommandContext

# TODO(texts): replace with commands.texts once the grammar helper's module is committed.
HELP_TEXT = (
    "*Deckhand* deploys container images to Kubernetes.\n"
    "• `/deploy <service> <tag> [to <env>]`: check the image, patch the Deployment, "
    "follow the rollout\n"
    "• `/deploy help`: this message"
)
NOT_WIRED_TEXT = (
    "Deckhand is running, but its deploy engine is not wired in yet: "
    "only `/deploy help` works for now."
)


class HelpOnlyBackend:
    """A `DeployBackend` that only knows `help` (see the module docstring)."""

    async def handle_command(self, request: CommandContext) -> None:
        if request.text.lower() in ("", "help"):
            await request.replier.ephemeral(HELP_TEXT)
        else:
            await request.replier.ephemeral(NOT_WIRED_TEXT)

    async def handle_action(self, action: ActionContext) -> None:
        await action.replier.ephemeral(NOT_WIRED_TEXT)
