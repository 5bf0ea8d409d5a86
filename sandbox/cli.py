"""`deckhand sandbox …`: start the local stand-ins in the foreground."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deckhand sandbox")
    parser.add_subparsers(dest="what", metavar="WHAT")
    return parser


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    parser.parse_args(list(argv))
    parser.print_help()
    return 0
