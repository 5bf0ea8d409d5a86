"""The announcement of a new image as Block Kit (pure).

    blocks, text = render_announcement(announcement)

A header (service and tag), who pushed it and when, the image check (platform, size,
revision label; a label that doesn't match the tag is flagged) or **Not deployable**
with the fix, the change notes against each environment (when read), the auto-deploy
note, and one **Deploy to ENV** button per environment
(`commands.delivery.DEPLOY_PUSH_ACTION`, value `service|tag|env`). A not-deployable
image has no buttons.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.blocks import Block, section
from commands import texts
from commands.delivery import DEPLOY_PUSH_ACTION, Announcement, button_value


def render_announcement(a: Announcement, *, notes: Sequence[str] = ()) -> tuple[list[Block], str]:
    """The message's blocks and its notification text; `notes`: the change notes' lines
    against each environment (`commands.texts.change_summary`), shown before the buttons."""
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": texts.push_title(a.service, a.tag)[:150]},
        },
        section(texts.push_headline(a.service, a.tag, a.pushed_by, a.pushed_at)),
    ]
    if a.image is not None:
        check = a.image
        blocks.append(
            section(
                texts.push_checked(
                    check.platform,
                    check.size,
                    check.revision_label,
                    mismatch=a.revision_mismatch,
                    tag=a.tag,
                )
            )
        )
    if a.problem is not None:
        blocks.append(section(texts.push_not_deployable(a.problem)))
        if a.fix:
            blocks.append(section(texts.push_fix(a.fix)))
    if notes:
        blocks.append(section("\n".join(notes)[:2900]))
    if a.auto_deploy:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": texts.push_auto_deploy_note(a.auto_deploy)}
                ],
            }
        )
    if a.buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"deploy-push-{a.service}"[:255],
                "elements": [
                    {
                        "type": "button",
                        "action_id": f"{DEPLOY_PUSH_ACTION}:{env}"[:255],
                        "text": {"type": "plain_text", "text": texts.deploy_button(env)[:75]},
                        "value": button_value(a.service, a.tag, env),
                        **({"style": "primary"} if i == 0 else {}),
                    }
                    for i, env in enumerate(a.buttons)
                ],
            }
        )
    return blocks, texts.push_fallback(a.service, a.tag, a.deployable)
