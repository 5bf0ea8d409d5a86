"""`deckhand image REF`: ask the registry whether the nodes will be able to pull an image.

    deckhand image gitea.example.com/admin/api:237c6b9 [--platform linux/amd64]
                   [--json] [--docker-config PATH]

Prints the digest to pin, the platforms, compressed size, creation time and revision
label. Exit codes: 0 pullable for the platform, 1 not pullable (the sentence says why),
2 usage errors (bad reference, platform or docker config). Credentials come from
`Settings` (DECKHAND_REGISTRY_USERNAME / DECKHAND_REGISTRY_TOKEN, or a docker config).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.registry import ImageVerdict, RegistryClient, RegistryError
from bot.registry.client import as_reference
from bot.registry.credentials import CredentialsError, CredentialStore
from bot.registry.errors import InvalidReference
from bot.settings import RegistrySettings, Settings
from commands.images import ImageReference, Platform

DEFAULT_PLATFORM = "linux/amd64"
EXIT_PULLABLE, EXIT_NOT_PULLABLE, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deckhand image",
        description="Check that the nodes will be able to pull an image, without pulling it.",
    )
    parser.add_argument("ref", metavar="REF", help="image reference, e.g. host/owner/name:tag")
    parser.add_argument(
        "--platform",
        default=DEFAULT_PLATFORM,
        help=f"the nodes' platform, OS/ARCH[/VARIANT] (default {DEFAULT_PLATFORM})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--docker-config",
        type=Path,
        metavar="PATH",
        help="a dockerconfigjson (e.g. the pods' pull secret) to authenticate with",
    )
    return parser


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def verdict_json(verdict: ImageVerdict) -> dict[str, object]:
    """The JSON shape of a successful check (stable: scripts read it)."""
    return {
        "pullable": True,
        "reference": str(verdict.reference),
        "digest": verdict.digest,
        "pinned": verdict.pinned,
        "platform": str(verdict.platform),
        "platform_digest": verdict.platform_digest,
        "platforms": [str(p) for p in verdict.platforms],
        "media_type": verdict.media_type,
        "compressed_size": verdict.compressed_size,
        "created": verdict.created.isoformat() if verdict.created else None,
        "revision": verdict.revision,
        "revision_mismatch": verdict.revision_mismatch(),
        "labels": dict(verdict.labels),
    }


def render(verdict: ImageVerdict, wanted: Platform) -> str:
    created = verdict.created.strftime("%Y-%m-%d %H:%M UTC") if verdict.created else "unknown"
    revision = verdict.revision or "no org.opencontainers.image.revision label"
    if verdict.revision_mismatch():
        revision += f"  (does not match the tag `{verdict.reference.tag}`)"
    lines = [
        f"pullable   yes, for {wanted}",
        f"pin        {verdict.pinned}",
        f"digest     {verdict.digest}",
        f"platforms  {', '.join(str(p) for p in verdict.platforms)}",
        f"size       {_size(verdict.compressed_size)} compressed",
        f"created    {created}",
        f"revision   {revision}",
    ]
    return "\n".join(lines)


async def check(
    settings: RegistrySettings, ref: ImageReference, platform: Platform
) -> ImageVerdict:
    credentials = CredentialStore.from_settings(settings)
    async with RegistryClient(settings, credentials=credentials) as client:
        return await client.inspect(ref, platform=platform)


def run(
    argv: Sequence[str],
    *,
    settings: Settings | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Parse `argv`, check the image, print; returns the exit code (0, 1 or 2)."""
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # argparse has printed the usage line
        return EXIT_USAGE if exc.code else EXIT_PULLABLE
    try:
        ref = as_reference(args.ref)
        platform = Platform.parse(args.platform)
        registry_settings = (settings or Settings.from_env()).registry()
        if args.docker_config is not None:
            CredentialStore.from_docker_config(args.docker_config)  # fail early, as usage
            registry_settings = registry_settings.model_copy(
                update={"docker_config": args.docker_config}
            )
    except (InvalidReference, CredentialsError, ValueError) as exc:
        print(f"deckhand image: {exc}", file=err)
        return EXIT_USAGE
    try:
        verdict = asyncio.run(check(registry_settings, ref, platform))
    except RegistryError as exc:
        if args.json:
            body = {"pullable": False, "error": type(exc).__name__, "sentence": exc.sentence()}
            print(json.dumps(body), file=out)
        else:
            print(f"not pullable: {exc.sentence()}", file=err)
        return EXIT_NOT_PULLABLE
    if args.json:
        print(json.dumps(verdict_json(verdict)), file=out)
    else:
        print(render(verdict, platform), file=out)
    return EXIT_PULLABLE


def main(argv: Sequence[str]) -> int:
    return run(argv)
