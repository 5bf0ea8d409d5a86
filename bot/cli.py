"""The `deckhand` command line: one sub-command per front door.

Each sub-command's parser and runner live with the feature they drive; this module
only wires them. Sub-commands of other distributions come in through the entry-point
group `deckhand.commands` (name = sub-command, value = `main(argv) -> int`): the
`deckhand-sandbox` distribution (sandbox/pyproject.toml) registers `sandbox` there, so
`deckhand sandbox …` works where it is installed (`make venv`) and the product itself
imports no stand-in.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from bot.deploy_cli import VERBS as ENGINE_VERBS
from bot.deploy_cli import add_parsers as add_engine_parsers

PLUGIN_GROUP = "deckhand.commands"

PLUGIN_MISSING = {
    "sandbox": "deckhand: the sandbox is not installed here (it is the `deckhand-sandbox` "
    "distribution: `make venv` in a checkout installs it)",
}


def plugin(name: str) -> Callable[[list[str]], int] | None:
    """The `main` another installed distribution registered for sub-command `name`."""
    for point in entry_points(group=PLUGIN_GROUP, name=name):
        loaded: Callable[[list[str]], int] = point.load()
        return loaded
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deckhand",
        description="Chat-ops deploy bot for Kubernetes. See README.md.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    sandbox = sub.add_parser(
        "sandbox",
        help="run the local sandbox (simulated cluster, registry, Slack)",
        add_help=False,
    )
    sandbox.add_argument("rest", nargs=argparse.REMAINDER)
    run = sub.add_parser("run", help="run Deckhand on Slack (see bot/app.py)", add_help=False)
    run.add_argument("rest", nargs=argparse.REMAINDER)
    image = sub.add_parser(
        "image", help="check that the nodes will be able to pull an image", add_help=False
    )
    image.add_argument("rest", nargs=argparse.REMAINDER)
    check = sub.add_parser("check", help="the doctor: check config, Slack, RBAC, registry")
    check.add_argument("rest", nargs=argparse.REMAINDER)
    add_engine_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "sandbox":
        found = plugin("sandbox")
        if found is None:
            print(PLUGIN_MISSING["sandbox"], file=sys.stderr)
            return 2
        return found(args_list[1:])
    if args_list and args_list[0] == "run":
        from bot.app import main as run_main

        return run_main(args_list[1:])
    if args_list and args_list[0] == "check":
        from bot.doctor import main as doctor_main

        return doctor_main(args_list[1:])
    if args_list and args_list[0] == "image":
        from bot.image_cli import main as image_main

        return image_main(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command in ENGINE_VERBS:
        from bot.deploy_cli import run as run_engine_command

        return run_engine_command(args)
    return 2
