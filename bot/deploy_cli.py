"""The terminal front-end of the rollout engine: the same commands and policy as chat.

    deckhand deploy SERVICE[,SERVICE] TAG [--env ENV] [--no-wait] [--json] [--break-glass WHY]
                    [--dry-run]
    deckhand promote SERVICE[,SERVICE] [--from ENV] [--env ENV] [--break-glass WHY] [--dry-run]
    deckhand status [SERVICE] [--env ENV]
    deckhand history SERVICE [--env ENV]
    deckhand rollback SERVICE [--env ENV] [--to TAG|REVISION]
    deckhand restart SERVICE [--env ENV] [--reason TEXT]   (`kubectl rollout restart`, followed)
    deckhand lock SERVICE --env ENV [--reason TEXT]      deckhand unlock SERVICE --env ENV

Exit codes: 0 done (the rollout succeeded), 1 the rollout failed (or the cluster or
registry could not be reached while acting), 2 refused before anything changed, or a
usage error. Output: a live line on a terminal, plain lines when piped, one JSON
document with `--json`.

Policy is the chat's: an environment that needs approvals refuses a CLI deploy unless
`--break-glass REASON` is given; such a deploy carries who and why in its change-cause
and deploy record, and is announced in the environment's channel when Slack is
configured (`SLACK_BOT_TOKEN`).

A deploy prints its change notes (the commits since what runs, from Gitea) before it
rolls out; `--dry-run` prints the plan and the full change notes and stops there.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO, TypeVar

from bot.app import open_core
from bot.kube.config import KUBECONFIG_HELP
from bot.kube.errors import KubeError
from bot.registry.errors import RegistryError
from bot.rollout.engine import RolloutEngine, ServiceStatus
from bot.rollout.outcome import Outcome
from bot.settings import Settings
from bot.slack import writes
from bot.slack.client import SlackError, open_web_client
from commands import texts
from commands.config import DeckhandConfig
from commands.plan import DeployPlan
from commands.progress import Phase, Progress
from commands.requests import Deploy, History, Lock, Promote, Refusal, Restart, Rollback, Unlock
from commands.validate import (
    ValidatedDeploy,
    ValidatedHistory,
    ValidatedLock,
    ValidatedPromote,
    ValidatedRestart,
    ValidatedRollback,
    ValidatedUnlock,
    validate,
)

log = logging.getLogger(__name__)

V = TypeVar("V")

OK, FAILED, REFUSED = 0, 1, 2
VERBS = ("deploy", "promote", "status", "history", "rollback", "restart", "lock", "unlock")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the engine's sub-commands on the `deckhand` parser."""

    def common(p: argparse.ArgumentParser, *, env_required: bool = False) -> None:
        p.add_argument("--env", required=env_required, help="environment (or alias)")
        p.add_argument("--config", type=Path, help="config file (default: DECKHAND_CONFIG)")
        p.add_argument("--kubeconfig", type=Path, help=KUBECONFIG_HELP)
        p.add_argument("--as", dest="user", help="who you are, for records (default: $USER)")
        p.add_argument("--json", action="store_true", help="print one JSON document")

    def deploying(p: argparse.ArgumentParser) -> None:
        p.add_argument("services", help="service, group, or a comma-separated list")
        p.add_argument("--no-wait", action="store_true", help="return once the rollout started")
        p.add_argument("--break-glass", metavar="REASON", help="deploy without approval (recorded)")
        p.add_argument(
            "--dry-run", action="store_true", help="show the plan and change notes; deploy nothing"
        )

    p = sub.add_parser("deploy", help="check an image, roll it out and follow it")
    deploying(p)
    p.add_argument("tag")
    common(p)
    p = sub.add_parser("promote", help="deploy exactly the digest another environment runs")
    deploying(p)
    p.add_argument("--from", dest="source", help="the source environment (default: promote_from)")
    common(p)
    p = sub.add_parser("status", help="what runs where, and any lock")
    p.add_argument("service", nargs="?")
    common(p)
    p = sub.add_parser("history", help="the last deploys and revisions of a service")
    p.add_argument("service")
    common(p)
    p = sub.add_parser("rollback", help="roll back to the previous revision, a tag or revision")
    p.add_argument("service")
    p.add_argument("--to", help="a tag, or a revision number")
    common(p)
    p = sub.add_parser("restart", help="replace every pod (same image), followed to a verdict")
    p.add_argument("service")
    p.add_argument("--reason", default="")
    common(p)
    p = sub.add_parser("lock", help="refuse deploys of a service in an environment")
    p.add_argument("service")
    p.add_argument("--reason", default="")
    common(p, env_required=True)
    p = sub.add_parser("unlock", help="lift a manual lock")
    p.add_argument("service")
    common(p, env_required=True)


class Output:
    """Where progress and answers go: a live line, plain lines, or one JSON document."""

    def __init__(self, *, as_json: bool, stream: TextIO) -> None:
        self.as_json = as_json
        self.stream = stream
        self.live = stream.isatty() and not as_json
        self._last: dict[str, str] = {}

    def progress(self, p: Progress) -> None:
        if self.as_json:
            return
        line = texts.cli_progress(p)
        if self._last.get(p.service) == line:
            return
        self._last[p.service] = line
        if self.live and not p.is_final:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(("\r\033[K" if self.live else "") + line + "\n")
        self.stream.flush()

    def say(self, text: str, document: dict[str, Any] | None = None) -> None:
        if self.as_json:
            self.stream.write(json.dumps(document or {"message": text}, default=str) + "\n")
        else:
            self.stream.write(("\r\033[K" if self.live else "") + text + "\n")
        self.stream.flush()


def _valid(engine: RolloutEngine, request: object, kind: type[V], out: Output) -> V | None:
    """The request validated against the config (once, here at the edge), or None after
    saying why not."""
    valid = validate(request, engine.config)  # type: ignore[arg-type]
    if isinstance(valid, Refusal):
        out.say(valid.text, {"phase": Phase.REFUSED, "refusal": valid.code, "message": valid.text})
        return None
    assert isinstance(valid, kind)
    return valid


def _env_of(config: DeckhandConfig, env: str | None) -> str | None:
    """The canonical name of `env` (aliases resolved), or None when unknown."""
    wanted = env or config.default_environment
    for name, c in config.environments.items():
        if wanted == name or wanted in c.aliases:
            return name
    return None


def _targets(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(s.strip() for s in args.services.split(",") if s.strip())


def _reason(args: argparse.Namespace) -> str:
    return f"break-glass: {args.break_glass}" if args.break_glass else "deckhand CLI"


async def _deploy(
    engine: RolloutEngine, args: argparse.Namespace, out: Output, settings: Settings
) -> int:
    request = Deploy(_targets(args), args.tag, args.env, _reason(args))
    return await _deploy_one(engine, request, args, out, settings)


async def _promote(
    engine: RolloutEngine, args: argparse.Namespace, out: Output, settings: Settings
) -> int:
    """One deploy per service of exactly the digest the source runs (`--from`)."""
    request = Promote(_targets(args), args.source, args.env, _reason(args))
    valid = _valid(engine, request, ValidatedPromote, out)
    if valid is None:
        return REFUSED
    codes = []
    for item in await engine.promotions(valid):
        if isinstance(item, Refusal):
            out.say(item.text, {"phase": Phase.REFUSED, "refusal": item.code, "message": item.text})
            codes.append(REFUSED)
            continue
        codes.append(await _deploy_one(engine, item, args, out, settings))
    return max(codes, default=REFUSED)


async def _deploy_one(
    engine: RolloutEngine,
    request: Deploy,
    args: argparse.Namespace,
    out: Output,
    settings: Settings,
) -> int:
    valid = _valid(engine, request, ValidatedDeploy, out)
    if valid is None:
        return REFUSED
    plan = await engine.check(valid, user=args.user)
    if isinstance(plan, Refusal):
        out.say(plan.text, {"phase": Phase.REFUSED, "refusal": plan.code, "message": plan.text})
        return REFUSED
    if args.dry_run:
        return _dry_run(plan, out)
    if plan.unpromoted and not args.break_glass:
        text = texts.cli_not_promoted(plan.unpromoted, plan.promote_source, plan.env)
        out.say(text, {"phase": Phase.REFUSED, "refusal": "not_promoted", "message": text})
        return REFUSED
    if not out.as_json:
        for line in plan.promotion:
            out.say(line)
    if not out.as_json:
        for line in texts.notes_lines(plan.change_notes, slack=False):
            out.say(line)
    env = engine.config.environments[plan.env]
    # Freeze windows count: inside one even an unprotected env needs an approver.
    if env.approvals.required_at(engine.clock.now()) > 0 and not args.break_glass:
        text = texts.cli_needs_approval(plan.env)
        out.say(text, {"phase": Phase.REFUSED, "refusal": "approval_required", "message": text})
        return REFUSED
    if args.break_glass:
        log.warning("break-glass deploy %s by %s: %s", plan.deploy_id, args.user, args.break_glass)
        await _announce(engine, settings, plan, args, out)
    return await _execute(engine, plan, args, out)


def _dry_run(plan: DeployPlan, out: Output) -> int:
    """The plan and the full change notes, as text or one JSON document; nothing changes."""
    notes = plan.change_notes
    if out.as_json:
        document = {
            "deploy_id": plan.deploy_id,
            "env": plan.env,
            "dry_run": True,
            "approvals_required": plan.approvals_required,
            "services": [
                {"service": s.service, "running": s.running, "image": s.patches[0].image}
                for s in plan.services
                if s.patches
            ],
            "unchanged": list(plan.unchanged),
            "change_notes": [asdict(n) for n in notes],
            "promotion": list(plan.promotion),
            "unpromoted": list(plan.unpromoted),
        }
        out.say("", document)
        return OK
    for s in plan.services:
        if s.patches:
            out.say(texts.cli_plan_line(s.service, s.running, s.patches[0].image))
    for line in plan.promotion:
        out.say(line)
    if plan.unpromoted:
        out.say(texts.cli_not_promoted(plan.unpromoted, plan.promote_source, plan.env))
    for line in texts.notes_lines(notes, slack=False):
        out.say(line)
    full = texts.notes_thread(notes, slack=False)
    if full:
        out.say(full)
    out.say(texts.cli_dry_run_done(plan.env, plan.approvals_required))
    return OK


async def _announce(
    engine: RolloutEngine,
    settings: Settings,
    plan: DeployPlan,
    args: argparse.Namespace,
    out: Output,
) -> None:
    """Tell the environment's channel about a break-glass deploy (when Slack is set up).

    A Slack problem never blocks an emergency deploy; the person is told it wasn't
    announced, and the deploy record and change-cause still carry who and why.
    """
    channels = engine.config.environments[plan.env].channels
    if settings.slack_bot_token is None or not channels:
        return
    text = texts.break_glass_announcement(
        args.user, plan.env, ", ".join(s.service for s in plan.services), args.tag, args.break_glass
    )
    try:
        async with open_web_client(settings) as client:
            await writes.post_message(client, channel=channels[0], text=text)
    except (SlackError, OSError, TimeoutError) as e:
        log.warning("break-glass deploy %s not announced: %s", plan.deploy_id, type(e).__name__)
        out.say(texts.break_glass_not_announced(channels[0]))


async def _execute(
    engine: RolloutEngine, plan: DeployPlan, args: argparse.Namespace, out: Output
) -> int:
    started = asyncio.Event()

    async def on_progress(p: Progress) -> None:
        out.progress(p)
        # The first ROLLING_OUT comes before the patch (record written, nothing changed
        # yet); counts from the Deployment only come once the patch is in.
        if p.phase is Phase.ROLLING_OUT and p.total > 0:
            started.set()

    deploy = engine.execute(plan, on_progress=on_progress)
    if not args.no_wait:
        return _verdict(await deploy, out)
    # --no-wait: leave once the patches are in. The record stays "rolling out" (and its
    # lock held until it expires) for the Deckhand in the cluster to finish.
    run = asyncio.create_task(deploy, name=f"deploy:{plan.deploy_id}")
    waiter = asyncio.create_task(started.wait(), name="deploy-started")
    try:
        await asyncio.wait({run, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if run.done():
            return _verdict(run.result(), out)
    finally:
        for task in (run, waiter):
            task.cancel()
        await asyncio.gather(run, waiter, return_exceptions=True)
    out.say(texts.cli_started(plan.deploy_id, plan.env), {"deploy_id": plan.deploy_id})
    return OK


def _verdict(outcome: Outcome, out: Output) -> int:
    out.say(outcome.summary, _outcome_document(outcome))
    if outcome.phase is Phase.SUCCEEDED:
        return OK
    return REFUSED if outcome.phase is Phase.REFUSED else FAILED


def _outcome_document(outcome: Outcome) -> dict[str, Any]:
    return {
        "deploy_id": outcome.deploy_id,
        "env": outcome.env,
        "phase": outcome.phase,
        "duration_s": round(outcome.duration_s, 3),
        "summary": outcome.summary,
        "services": [
            {
                "service": s.service,
                "phase": s.phase,
                "counts": asdict(s.counts),
                "cause": s.failure.cause if s.failure else None,
                "sentence": s.failure.sentence if s.failure else None,
                "next_step": s.failure.next_step if s.failure else None,
                "rolled_back_to": s.rolled_back_to,
            }
            for s in outcome.services
        ],
    }


async def _status(
    engine: RolloutEngine, args: argparse.Namespace, out: Output, settings: Settings
) -> int:
    env = _env_of(engine.config, args.env)
    if env is None:
        out.say(texts.cli_unknown_env(args.env, sorted(engine.config.environments)))
        return REFUSED
    services = [args.service] if args.service else sorted(engine.config.services)
    if args.service and args.service not in engine.config.services:
        out.say(texts.cli_unknown_service(args.service, sorted(engine.config.services)))
        return REFUSED
    views: list[ServiceStatus] = [await engine.status(s, env) for s in services]
    lines = [texts.cli_status_line(v.service, v.env, v.deployments, v.lock) for v in views]
    out.say("\n".join(lines), {"status": [asdict(v) for v in views]})
    return OK


async def _history(
    engine: RolloutEngine, args: argparse.Namespace, out: Output, settings: Settings
) -> int:
    valid = _valid(engine, History(args.service, args.env), ValidatedHistory, out)
    if valid is None:
        return REFUSED
    view = await engine.history(valid)
    lines = [f"{view.service} ({view.env}): last deploys"]
    lines += [
        texts.cli_history_line(f"{r.when:%Y-%m-%d %H:%M}", r.who, r.tag, r.result, r.duration_s)
        for r in view.records
    ] or ["(no deploys recorded)"]
    lines += ["revisions:"]
    lines += [texts.cli_revision_line(v.number, v.image, v.change_cause) for v in view.revisions]
    out.say("\n".join(lines), asdict(view))
    return OK


async def _rollback(
    engine: RolloutEngine, args: argparse.Namespace, out: Output, settings: Settings
) -> int:
    to, revision = (None, int(args.to)) if (args.to or "").isdigit() else (args.to, None)
    request = Rollback(args.service, args.env, to, revision, "deckhand CLI")
    valid = _valid(engine, request, ValidatedRollback, out)
    if valid is None:
        return REFUSED
    result = await engine.rollback(valid, user=args.user, on_progress=_as_async(out))
    if isinstance(result, Refusal):
        out.say(result.text, {"refusal": result.code, "message": result.text})
        return REFUSED
    if not out.as_json:
        for line in texts.rollback_lines(result.change_notes, slack=False):
            out.say(line)
    return _verdict(result, out)


async def _restart(
    engine: RolloutEngine, args: argparse.Namespace, out: Output, settings: Settings
) -> int:
    """Same policy as chat: deployer's locks and history; no approvals (nothing new runs)."""
    request = Restart(args.service, args.env, args.reason.strip() or "deckhand CLI")
    valid = _valid(engine, request, ValidatedRestart, out)
    if valid is None:
        return REFUSED
    plan = await engine.check_restart(valid, user=args.user)
    if isinstance(plan, Refusal):
        out.say(plan.text, {"phase": Phase.REFUSED, "refusal": plan.code, "message": plan.text})
        return REFUSED
    return _verdict(await engine.execute(plan, on_progress=_as_async(out)), out)


def _as_async(out: Output) -> Any:
    async def on_progress(p: Progress) -> None:
        out.progress(p)

    return on_progress


async def _lock(
    engine: RolloutEngine, args: argparse.Namespace, out: Output, settings: Settings
) -> int:
    result: str | Refusal
    if args.command == "lock":
        lock = _valid(engine, Lock(args.service, args.env, args.reason), ValidatedLock, out)
        if lock is None:
            return REFUSED
        result = await engine.lock(lock, user=args.user)
    else:
        unlock = _valid(engine, Unlock(args.service, args.env), ValidatedUnlock, out)
        if unlock is None:
            return REFUSED
        result = await engine.unlock(unlock, user=args.user)
    if isinstance(result, Refusal):
        out.say(result.text, {"refusal": result.code, "message": result.text})
        return REFUSED
    out.say(result)
    return OK


HANDLERS = {
    "deploy": _deploy,
    "promote": _promote,
    "status": _status,
    "history": _history,
    "rollback": _rollback,
    "restart": _restart,
    "lock": _lock,
    "unlock": _lock,
}


async def _run(args: argparse.Namespace, out: Output) -> int:
    settings = Settings.from_env()
    overrides = {"config": args.config, "kubeconfig": args.kubeconfig}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    args.user = args.user or f"cli:{getpass.getuser()}"
    try:
        async with AsyncExitStack() as stack:
            try:
                core = await open_core(settings, stack=stack)
            except ValueError as e:  # the config file can't be used: one line per problem
                out.say(str(e), {"error": "config", "message": str(e)})
                return REFUSED
            return await HANDLERS[args.command](core.engine, args, out, settings)
    except (KubeError, RegistryError) as e:
        out.say(e.sentence(), {"error": type(e).__name__, "message": e.sentence()})
        return FAILED


def run(args: argparse.Namespace, *, stream: TextIO | None = None) -> int:
    """Run one parsed engine sub-command; returns the exit code (see the module docstring)."""
    out = Output(as_json=args.json, stream=stream or sys.stdout)
    try:
        return asyncio.run(_run(args, out))
    except KeyboardInterrupt:
        out.say(texts.cli_interrupted())
        return FAILED


def main(argv: Sequence[str]) -> int:
    """`deckhand deploy|status|…` parsed on its own (tests); `bot.cli` wires the same."""
    parser = argparse.ArgumentParser(prog="deckhand")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(list(argv)))
