"""Every sentence Deckhand says to a person, in one place.

Short, specific, actionable: what happened, why, and the next command or fix. Names,
tags and commands are wrapped in backticks; people, groups and channels are Slack
mentions (`<@U…>`, `<!subteam^S…>`, `<#C…>`, built by `user()` / `usergroup()`).

Sections: usage and help, the grammar (parse errors), validation, authorization,
diagnosis, rollout progress, planning, then the front-ends' messages (deploy cards,
answers, image-pull alerts). Functions take the facts and return a string; they are
purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commands.observed import DeploymentState, LockInfo
    from commands.progress import Progress
    from commands.requests import ParseError


def _code(value: object) -> str:
    return f"`{value}`"


def _list(values: Iterable[str]) -> str:
    items = [_code(v) for v in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def did_you_mean(candidates: Iterable[str]) -> str:
    """` Did you mean `a` or `b`?` (with a leading space), or '' when there is nothing."""
    items = list(candidates)
    return f" Did you mean {_list(items)}?" if items else ""


# --- usage and help --------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """One command's help: its syntax, one line of what it does, and examples."""

    syntax: str
    summary: str
    examples: tuple[str, ...]


USAGE: dict[str, Usage] = {
    "deploy": Usage(
        "/deploy SERVICE[,SERVICE…] TAG [ENV] [-- reason]",
        "Check the image in the registry, pin it to its digest, roll it out and report.",
        (
            "/deploy api 237c6b8",
            "/deploy api,worker 237c6b8 to prod",
            "/deploy all 237c6b8 --env staging -- release 42",
        ),
    ),
    "status": Usage(
        "/deploy status [SERVICE] [ENV]",
        "What runs where: image tag, digest, ready replicas, lock.",
        ("/deploy status", "/deploy status api prod", "/deploy status prod"),
    ),
    "history": Usage(
        "/deploy history SERVICE [ENV]",
        "The last deploys of a service: revision, tag, who and when.",
        ("/deploy history api prod",),
    ),
    "rollback": Usage(
        "/deploy rollback SERVICE [ENV] [to TAG | to #REVISION] [-- reason]",
        "Go back to the previous revision, or to a tag or revision that ran before.",
        (
            "/deploy rollback api prod",
            "/deploy rollback api prod to 1a2b3c4",
            "/deploy undo api to #7",
        ),
    ),
    "lock": Usage(
        "/deploy lock SERVICE ENV [reason…]",
        "Stop deploys of a service to an environment until someone unlocks it.",
        ("/deploy lock api prod database migration running",),
    ),
    "unlock": Usage(
        "/deploy unlock SERVICE ENV",
        "Lift a lock.",
        ("/deploy unlock api prod",),
    ),
    "tags": Usage(
        "/deploy tags SERVICE",
        "The newest tags of the service's image in the registry.",
        ("/deploy tags api",),
    ),
    "cancel": Usage(
        "/deploy cancel ID",
        "Cancel a deploy that waits for approval or is still rolling out.",
        ("/deploy cancel d-7f3a2c",),
    ),
    "help": Usage("/deploy help [COMMAND]", "This help.", ("/deploy help rollback",)),
}


def usage(command: str) -> str:
    """One command's help block: syntax, summary, examples."""
    entry = USAGE[command]
    examples = "\n".join(f"  {_code(example)}" for example in entry.examples)
    return f"*{entry.syntax}*\n{entry.summary}\nExamples:\n{examples}"


def overview() -> str:
    """The answer to a bare `/deploy` or `help`: one line per command."""
    lines = [f"{_code(entry.syntax)}: {entry.summary}" for entry in USAGE.values()]
    return "Deckhand commands:\n" + "\n".join(lines)


def unknown_help_topic(topic: str, suggestions: Iterable[str]) -> str:
    return f"There is no command {_code(topic)}.{did_you_mean(suggestions)}\n\n{overview()}"


# --- the grammar -----------------------------------------------------------------------


def parse_error(error: ParseError) -> str:
    """A `ParseError` in full: the problem, the corrected line, the nearest usage."""
    parts = [error.problem]
    if error.did_you_mean:
        parts.append(f"Did you mean {_code(error.did_you_mean)}?")
    text = " ".join(parts)
    if error.help_topic in USAGE:
        return f"{text}\n\n{usage(error.help_topic)}"
    return f"{text}\n\n{overview()}"


def too_long(limit: int) -> str:
    return f"That command is longer than {limit} characters; Deckhand commands are one line."


def not_understood(text: str) -> str:
    return f"I don't understand {_code(text)}."


def unknown_verb(word: str) -> str:
    return f"{_code(word)} is not a Deckhand command."


def bad_name(kind: str, word: str) -> str:
    return (
        f"{_code(word)} is not a valid {kind} name: "
        "lowercase letters, digits, `-`, `_` and `.` only."
    )


def digest_not_tag() -> str:
    return "Deploy by tag, not by digest: Deckhand looks up the digest and pins it for you."


def image_not_tag(text: str, tag: str | None) -> str:
    hint = f" (here {_code(tag)})" if tag else ""
    return f"{_code(text)} looks like an image reference: give just the tag{hint}."


def bad_tag(tag: str) -> str:
    return (
        f"{_code(tag)} is not a valid tag: letters, digits, `_`, `.` and `-` only, "
        "at most 128, not starting with `.` or `-`."
    )


def missing_env_after(word: str) -> str:
    return f"{_code(word)} needs an environment after it, e.g. {_code(word + ' prod')}."


def unknown_option(word: str) -> str:
    return f"Unknown option {_code(word)}: the only option is `--env ENV` (and `-- reason`)."


def two_envs(first: str, second: str) -> str:
    return f"Two environments given ({_code(first)} and {_code(second)}): name one."


def missing_target() -> str:
    return "Which service? Name one or more, e.g. `api` or `api,worker`."


def missing_tag(target: str) -> str:
    return (
        f"Which tag of {_code(target)}? Add the git short SHA, e.g. {_code(target + ' 237c6b8')}."
    )


def targets_need_commas() -> str:
    return "Separate several services with commas, then the tag."


def unexpected_words(words: str) -> str:
    return f"I don't know what to do with {_code(words)}."


def missing_service(command: str) -> str:
    return f"{_code(command)} needs a service name."


def missing_env(command: str) -> str:
    return f"{_code(command)} needs a service and an environment."


def bad_revision(word: str) -> str:
    return f"{_code(word)} is not a revision number: write e.g. `to #7`."


def missing_rollback_target() -> str:
    return "Roll back to what? Write `to TAG` or `to #REVISION`, or nothing for the previous one."


def tag_and_revision() -> str:
    return "Give a tag or a revision to roll back to, not both."


def missing_request_id() -> str:
    return "Which deploy? Give its id, shown in the deploy's message (e.g. `d-7f3a2c`)."


def bad_request_id(word: str) -> str:
    return f"{_code(word)} is not a deploy id: ids look like `d-7f3a2c`."


# --- validation ------------------------------------------------------------------------


def unknown_targets(
    names: Iterable[str], suggestions: dict[str, tuple[str, ...]], known: Iterable[str]
) -> str:
    lines = [f"There is no service or group {_code(name)}.{did_you_mean(suggestions.get(name, ()))}"
             for name in names]  # fmt: skip
    return "\n".join(lines) + f"\nServices and groups: {', '.join(map(_code, known))}."


def env_is_not_a_service(name: str) -> str:
    return f"{_code(name)} is an environment, not a service: write the service first, then the tag."


def unknown_env(name: str, suggestions: Iterable[str], known: Iterable[str]) -> str:
    return (
        f"There is no environment {_code(name)}.{did_you_mean(suggestions)} "
        f"Environments: {', '.join(map(_code, known))}."
    )


def no_env(known: Iterable[str]) -> str:
    return f"Which environment? Add one of {_list(known)}, e.g. `to prod`."


def tag_latest(service_hint: str) -> str:
    return (
        "`latest` is never deployed: it moves, so nobody could tell what runs or roll back "
        f"to it. Deploy the commit's tag instead, e.g. {_code(f'/deploy {service_hint} 237c6b8')}."
    )


def tag_refused(tag: str) -> str:
    return f"Tag {_code(tag)} is refused by the tag policy (`tag_policy.refuse`)."


def tag_not_lowercase(tag: str) -> str:
    return f"Tags are lowercase in the registry: did you mean {_code(tag.lower())}?"


def tag_pattern(tag: str, pattern: str) -> str:
    return (
        f"Tag {_code(tag)} doesn't match the tag policy {_code(pattern)}: "
        "deploy a git commit SHA (`git rev-parse --short HEAD`)."
    )


def revision_hint(tag: str) -> str:
    return f" For revision {tag}, write {_code(f'to #{tag}')}."


def rollback_to_env(word: str) -> str:
    return f"{_code(word)} is an environment: write `rollback SERVICE {word}` (`to` names a tag)."


def group_not_allowed(name: str, command: str) -> str:
    return f"{_code(command)} works on one service; {_code(name)} is a group."


# --- authorization ---------------------------------------------------------------------


def user(user_id: str) -> str:
    """A Slack mention of a user id."""
    return f"<@{user_id}>"


def usergroup(group_id: str) -> str:
    """A Slack mention of a user group id."""
    return f"<!subteam^{group_id}>"


def _people(users: Iterable[str], groups: Iterable[str]) -> str:
    names = [user(u) for u in users] + [f"members of {usergroup(g)}" for g in groups]
    if not names:
        return "nobody"
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1]


def wrong_channel(env: str, channel: str, allowed: Iterable[str]) -> str:
    channels = [f"<#{c}>" for c in allowed]
    if not channels:
        return (
            f"No channel may command {_code(env)} yet: add this channel's id {_code(channel)} "
            f"to `environments.{env}.channels` in Deckhand's config."
        )
    return f"{_code(env)} is commanded from {', '.join(channels)} only, not from here."


def not_a_deployer(
    who: str, env: str, action: str, users: Iterable[str], groups: Iterable[str]
) -> str:
    allowed = _people(users, groups)
    if allowed == "nobody":
        return (
            f"Nobody may {action} in {_code(env)} yet: list deployers under "
            f"`environments.{env}.deployers` in Deckhand's config."
        )
    return (
        f"{user(who)}, you can't {action} in {_code(env)}: that takes {allowed}. "
        "Ask one of them, or to be added to the deployers."
    )


def self_approval() -> str:
    return "You requested this deploy: someone else has to approve it."


def not_an_approver(who: str, env: str, users: Iterable[str], groups: Iterable[str]) -> str:
    return (
        f"{user(who)}, you can't approve deploys to {_code(env)}: "
        f"that takes {_people(users, groups)}."
    )


# --- diagnosis -------------------------------------------------------------------------


def _registry_of(image: str) -> str:
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first) else "docker.io"


def cause(
    kind: str,
    *,
    image: str,
    namespace: str,
    pod: str | None,
    evidence: str,
    pull_secret: str | None,
    platform: str,
) -> tuple[str, str]:
    """(sentence, next step) for a `commands.diagnosis.Cause` value."""
    registry = _registry_of(image)
    target = f"pod {_code(pod)}" if pod else "the new pods"
    describe = f"`kubectl describe pod -n {namespace} {pod or '-l app=…'}`"
    seen = f" ({evidence})" if evidence else ""
    secret = pull_secret or "registry-credentials"
    table = {
        "tag_not_found": (
            f"The nodes can't find {_code(image)} in {_code(registry)}{seen}.",
            "Check the tag exists (`/deploy tags SERVICE`); if it does, the nodes pull from "
            "a different registry or mirror than Deckhand checks.",
        ),
        "pull_auth": (
            f"{_code(registry)} refused the cluster's pull credentials for {_code(image)}{seen}.",
            f"Renew the pull secret {_code(secret)} with a token that has `read:package`: "
            f"`kubectl create secret docker-registry {secret} --docker-server={registry} "
            "--docker-username=<user> --docker-password=<new token> "
            f"-n {namespace} --dry-run=client -o yaml | kubectl apply -f -`"
            + ("" if pull_secret else ", and list it in the Deployment's `imagePullSecrets`."),
        ),
        "platform_mismatch": (
            f"{_code(image)} isn't built for the nodes' platform {_code(platform)}{seen}.",
            f"Rebuild for it: `docker buildx build --platform {platform} --push …`, "
            "then deploy the new tag.",
        ),
        "registry_unreachable": (
            f"The nodes can't reach {_code(registry)}{seen}.",
            "Check DNS and network from a node to the registry; Deckhand keeps waiting until "
            "the rollout deadline.",
        ),
        "invalid_image": (
            f"The image reference {_code(image)} is invalid{seen}.",
            "Check the service's `image` in Deckhand's config and the Deployment's "
            "`imagePullPolicy`.",
        ),
        "crash_loop": (
            f"The new container in {target} keeps crashing{seen}.",
            f"Read its last logs: `kubectl logs -n {namespace} {pod or '…'} --previous`.",
        ),
        "config_error": (
            f"Kubernetes can't create the container in {target}{seen}.",
            f"A missing Secret or ConfigMap is the usual cause: {describe}.",
        ),
        "unschedulable": (
            f"Kubernetes can't place {target} on any node{seen}.",
            f"Free or add capacity, or relax the pod's requests or node selector: {describe}.",
        ),
        "not_ready": (
            f"{target[0].upper()}{target[1:]} runs but doesn't pass its readiness probe{seen}.",
            f"Check the probe and the app's logs: {describe}.",
        ),
        "progress_deadline": (
            f"The rollout made no progress before the Deployment's deadline{seen}.",
            f"`kubectl rollout status -n {namespace} deployment/…` and {describe}.",
        ),
    }
    return table.get(
        kind,
        (
            f"The new pods aren't becoming available{seen}.",
            f"Look at the pod's events: {describe}.",
        ),
    )


# --- rollout progress ------------------------------------------------------------------


def waiting_for_observation() -> str:
    return "Waiting for the Deployment controller to pick up the change"


def waiting_updated(updated: int, wanted: int) -> str:
    return f"{updated} of {wanted} new replicas have been updated"


def waiting_old(old: int) -> str:
    return f"{old} old replica{'s are' if old != 1 else ' is'} pending termination"


def waiting_available(available: int, updated: int) -> str:
    return f"{available} of {updated} updated replicas are available"


def deadline_exceeded(name: str, message: str | None) -> str:
    detail = f": {message}" if message else ""
    return f"Deployment {_code(name)} exceeded its progress deadline{detail}"


# --- planning --------------------------------------------------------------------------


def change_cause(user_id: str, action: str, reason: str | None) -> str:
    """The `kubernetes.io/change-cause` annotation (shown by `kubectl rollout history`)."""
    return f"deckhand: {user_id} {action}" + (f" ({reason})" if reason else "")


def image_problem(service: str, sentence: str) -> str:
    return f"Not deploying {_code(service)}: {sentence}"


def not_checked(service: str) -> str:
    return f"Not deploying {_code(service)}: its image wasn't checked in the registry. Try again."


def nothing_to_do(services: Iterable[str], tag: str, env: str) -> str:
    names = list(services)
    verb = "runs" if len(names) == 1 else "run"
    return f"Nothing to do: {_list(names)} already {verb} {_code(tag)} in {_code(env)}."


def locked(service: str, env: str, holder: str, reason: str | None, since: str) -> str:
    why = f": {reason}" if reason else ""
    return (
        f"{_code(service)} is locked in {_code(env)} by {user(holder)} since {since}{why}. "
        f"Ask them, or {_code(f'/deploy unlock {service} {env}')} when it's safe."
    )


def deployment_missing(service: str, namespace: str, deployment: str) -> str:
    return (
        f"There is no Deployment {_code(deployment)} in namespace {_code(namespace)} for "
        f"{_code(service)}: create it first, or fix `services.{service}.deployments`."
    )


def container_missing(deployment: str, container: str, containers: Iterable[str]) -> str:
    return (
        f"Deployment {_code(deployment)} has no container {_code(container)} "
        f"(it has {_list(containers) or 'none'}): fix the service's `container` in the config."
    )


def paused(deployment: str, namespace: str) -> str:
    return (
        f"Deployment {_code(deployment)} is paused: "
        f"`kubectl rollout resume -n {namespace} deployment/{deployment}` first."
    )


def replica_limit(service: str, limit: int, replicas: int, peak: int, deployment: str) -> str:
    if replicas > limit:
        return (
            f"{_code(service)} may run at most {limit} pod(s) but {_code(deployment)} "
            f"asks for {replicas}: scale it down first."
        )
    return (
        f"{_code(service)} may run at most {limit} pod(s), but a rolling update of "
        f"{_code(deployment)} would briefly run {peak}: set its `strategy.type: Recreate` "
        "(or `rollingUpdate.maxSurge: 0`)."
    )


def no_history(service: str, env: str) -> str:
    return f"{_code(service)} in {_code(env)} has no earlier revision to roll back to."


def no_such_revision(service: str, wanted: str, available: Iterable[str]) -> str:
    have = list(available)
    listed = f" Revisions kept: {', '.join(have)}." if have else ""
    return f"No revision of {_code(service)} ran {wanted}.{listed}"


def already_running(service: str, env: str, what: str) -> str:
    return f"Nothing to do: {_code(service)} already runs {what} in {_code(env)}."


# --- Slack front-end: deploy messages and answers (bot.deploys, helper G) ---------------


PHASE_LABELS = {
    "requested": ":hourglass_flowing_sand: Requested",
    "checking": ":mag: Checking the image",
    "checked": ":white_check_mark: Checks passed",
    "awaiting_approval": ":raised_hand: Waiting for approval",
    "rolling_out": ":rocket: Rolling out",
    "succeeded": ":white_check_mark: Succeeded",
    "failed": ":x: Failed",
    "rolled_back": ":leftwards_arrow_with_hook: Failed, rolled back",
    "refused": ":no_entry: Refused",
}


def duration(seconds: float) -> str:
    """`42 s`, `3 min 5 s`."""
    total = max(0, round(seconds))
    minutes, secs = divmod(total, 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def size(n_bytes: int) -> str:
    """`512 KB`, `48.2 MB` (decimal units, as registries show them)."""
    if n_bytes < 1_000_000:
        return f"{max(1, round(n_bytes / 1000))} KB"
    return f"{n_bytes / 1_000_000:.1f} MB"


def deploy_title(kind: str, services: Iterable[str], what: str, env: str) -> str:
    """`Deploy api, worker 237c6b8 → staging` (plain text: a header block)."""
    return f"{kind.capitalize()} {', '.join(services)} {what} → {env}"


def deploy_fallback(title: str, phase: str) -> str:
    """The notification text of a deploy message."""
    label = PHASE_LABELS.get(phase, phase).split(" ", 1)[-1]
    return f"{title}: {label}"


def phase_line(phase: str, *, elapsed_s: float | None = None) -> str:
    label = PHASE_LABELS.get(phase, phase)
    if elapsed_s is not None and phase in ("succeeded", "failed", "rolled_back"):
        return f"*{label}* in {duration(elapsed_s)}"
    if elapsed_s is not None and phase == "rolling_out":
        return f"*{label}* ({duration(elapsed_s)})"
    return f"*{label}*"


def requested_by(user_id: str, deploy_id: str, reason: str | None) -> str:
    why = f" · _{reason}_" if reason else ""
    return f"Requested by {user(user_id)} · id {_code(deploy_id)}{why}"


def image_facts(
    service: str, digest: str, platform: str, size_text: str | None, revision: str | None
) -> str:
    parts = [f"{_code(service)}: {_code(digest[:19])}", platform]
    if size_text:
        parts.append(size_text)
    if revision:
        parts.append(f"revision {_code(revision[:12])}")
    return " · ".join(parts)


def revision_mismatch(service: str, tag: str, revision: str) -> str:
    return (
        f":warning: {_code(service)}: the image's revision label {_code(revision[:12])} "
        f"does not match the tag {_code(tag)}: was it built from another commit?"
    )


def rollout_counts(service: str, updated: int, ready: int, total: int) -> str:
    return f"{_code(service)}: {updated}/{total} updated, {ready}/{total} ready"


def service_succeeded(service: str, total: int) -> str:
    return f":white_check_mark: {_code(service)}: {total}/{total} ready"


def service_failed(service: str, sentence: str, next_step: str) -> str:
    step = f"\n*What to do:* {next_step}" if next_step else ""
    return f":x: {_code(service)}: {sentence}{step}"


def unchanged(services: Iterable[str], tag: str) -> str:
    return f"Already running {_code(tag)}, left alone: {_list(services)}."


def rollback_hint(service: str, env: str) -> str:
    return f"Roll back with the button, or `/deploy rollback {service} {env}`."


ROLLBACK_BUTTON = "Roll back"
DETAILS_HEADER = "Details"


def thread_details(
    service: str, cause: str, pod: str | None, evidence: str, logs: Iterable[str]
) -> str:
    """The thread reply of a failed service: cause, pod, quoted evidence, last log lines."""
    where = f" · pod {_code(pod)}" if pod else ""
    parts = [f"*{_code(service)}* · {cause}{where}"]
    if evidence:
        parts.append(f"```{evidence}```")
    lines = list(logs)
    if lines:
        parts.append("Last log lines:\n```" + "\n".join(lines) + "```")
    return "\n".join(parts)


def thread_succeeded(service: str, image: str, updated: int) -> str:
    return f"{_code(service)} now runs {_code(image)} ({updated} pod(s) updated)."


def approvals_not_enabled(env: str) -> str:
    return (
        f"{_code(env)} needs an approval; approvals are not enabled yet, so nothing was "
        "deployed. Deploy to another environment, or ask the platform team."
    )


def rollback_button_unknown(deploy_id: str) -> str:
    return f"Deckhand has no record of deploy {_code(deploy_id)}: roll back with a command."


def cancel_not_supported(request_id: str) -> str:
    return (
        f"Deckhand can't cancel {_code(request_id)} yet. To undo a deploy, "
        "`/deploy rollback SERVICE ENV`."
    )


def status_line(service: str, env: str, tag: str, replicas: int, lock: str | None) -> str:
    locked_note = f" · :lock: {lock}" if lock else ""
    pods = f"{replicas} replica{'s' if replicas != 1 else ''}"
    return f"{_code(service)} in {_code(env)}: {_code(tag)} · {pods}{locked_note}"


def status_missing(service: str, env: str) -> str:
    return f"{_code(service)} in {_code(env)}: no Deployment"


def history_header(service: str, env: str) -> str:
    return f"Last deploys of {_code(service)} in {_code(env)}:"


def history_line(when: str, tag: str, who: str, result: str, deploy_id: str) -> str:
    by = f" by {user(who)}" if who else ""
    return f"{when} · {_code(tag)}{by} · {result} · {_code(deploy_id)}"


def revision_line(number: int, tag: str, cause: str | None) -> str:
    why = f" · {cause}" if cause else ""
    return f"revision #{number} · {_code(tag)}{why}"


def history_empty(service: str, env: str) -> str:
    return f"No deploys of {_code(service)} to {_code(env)} recorded yet."


def tags_answer(service: str, repository: str, tags: Iterable[str]) -> str:
    listed = list(tags)
    if not listed:
        return f"{_code(repository)} has no tags yet."
    return f"Newest tags of {_code(service)} ({_code(repository)}): " + ", ".join(
        _code(t) for t in listed
    )


def locked_now(service: str, env: str, who: str, reason: str | None) -> str:
    why = f": {reason}" if reason else ""
    return (
        f":lock: {user(who)} locked {_code(service)} in {_code(env)}{why}. "
        f"Deploys are refused until {_code(f'/deploy unlock {service} {env}')}."
    )


def unlocked_now(service: str, env: str, who: str) -> str:
    return f":unlock: {user(who)} unlocked {_code(service)} in {_code(env)}."


def not_locked(service: str, env: str) -> str:
    return f"{_code(service)} is not locked in {_code(env)}: nothing to unlock."


def backend_unavailable(what: str, sentence: str) -> str:
    """A dependency (cluster, registry) failed while answering: say so, no traceback."""
    return f"Deckhand couldn't {what}: {sentence}. Try again in a minute."


# --- image-pull alerts (commands.incidents, bot.alerts) ---------------------------------

_ALERT_LABELS = {
    "tag_not_found": "tag not found",
    "pull_auth": "pull secret rejected",
    "platform_mismatch": "wrong platform",
    "registry_unreachable": "registry unreachable",
    "invalid_image": "invalid image",
}


def alert_cause_label(cause: str) -> str:
    """`tag not found`, `pull secret rejected`, … for a `Cause` value."""
    return _ALERT_LABELS.get(cause, "cause unknown")


def _pods_on(pods: int, nodes: Iterable[str]) -> str:
    names = sorted(nodes)
    where = f" on {len(names)} node{'s' if len(names) != 1 else ''} ({', '.join(names)})"
    return f"{pods} pod{'s' if pods != 1 else ''}" + (where if names else "")


def pull_alert_title(namespace: str, workload: str, label: str, *, resolved: bool) -> str:
    """The alert's first line (also the notification text)."""
    if resolved:
        return f":white_check_mark: Resolved: image pull for `{namespace}/{workload}` ({label})"
    return f":rotating_light: Image pull failing for `{namespace}/{workload}`: {label}"


def pull_alert_body(
    *,
    image: str,
    pods: int,
    peak_pods: int,
    nodes: Iterable[str],
    message: str,
    diagnosis: str,
    fix: str,
    resolved: bool,
) -> str:
    """The alert's details: image, who is affected, kubelet's words, diagnosis, fix."""
    if resolved:
        were = f"{peak_pods} pod{'s were' if peak_pods != 1 else ' was'} affected"
        affected = f"No pod is failing to pull it any more ({were})."
    else:
        affected = f"*Affected:* {_pods_on(pods, nodes)} can't pull."
    lines = [f"*Image:* `{image}`", affected]
    if message:
        lines.append(f"*Kubelet:* {message}")
    if diagnosis:
        lines.append(f"*Diagnosis:* {diagnosis}")
    if fix and not resolved:
        lines.append(f"*Fix:* {fix}")
    return "\n".join(lines)


def pull_resolved_followup(image: str, peak_pods: int, minutes: float) -> str:
    """The thread reply when an incident resolves."""
    took = f"{minutes:.0f} min" if minutes >= 1 else "under a minute"
    were = f"{peak_pods} pod{'s were' if peak_pods != 1 else ' was'} affected"
    return (
        f"Resolved: no pod is failing to pull `{image}` any more: they pulled it, or the "
        f"workload moved on ({were}; {took} after the alert)."
    )


def pull_summary_title(count: int, limit: int) -> str:
    """The rate-limit summary's first line."""
    return (
        f":rotating_light: {count} more image-pull incident{'s' if count != 1 else ''} "
        f"(over {limit} alerts a minute in this channel, so summarized here):"
    )


def pull_summary_line(
    namespace: str, workload: str, image: str, label: str, pods: int, *, resolved: bool
) -> str:
    """One incident of the summary."""
    state = "resolved" if resolved else f"{pods} pod{'s' if pods != 1 else ''}"
    mark = ":white_check_mark:" if resolved else "•"
    return f"{mark} `{namespace}/{workload}` `{image}`: {label} ({state})"


def pull_tag_confirmed_missing() -> str:
    """The lead of a tag-not-found diagnosis the registry re-check confirmed."""
    return "The registry, asked with the namespace's pull secret, has no such tag"


# --- command line (bot.deploy_cli) ------------------------------------------------------


def cli_progress(p: Progress) -> str:
    """One line for one service's progress on a terminal."""
    head = f"{p.service} → {p.tag or 'rollback'} ({p.env})"
    counts = f"{p.updated}/{p.total} updated, {p.ready} ready, {p.available} available"
    detail = f" · {p.detail}" if p.detail else ""
    if p.phase.is_final or p.total == 0:
        return f"{head}: {p.phase.value.replace('_', ' ')}{detail}"
    return f"{head}: {p.phase.value.replace('_', ' ')} · {counts} · {p.elapsed_s:.1f}s{detail}"


def cli_needs_approval(env: str) -> str:
    return (
        f"{env} needs an approval: ask in Slack with `/deploy … to {env}`, or, in an "
        'emergency, repeat this with `--break-glass "why"` (recorded and announced).'
    )


def cli_started(deploy_id: str, env: str) -> str:
    return (
        f"Deploy {deploy_id} to {env} is rolling out; not waiting (--no-wait). "
        f"`deckhand status --env {env}` shows where it is."
    )


def cli_unknown_env(env: str | None, known: list[str]) -> str:
    return f"No environment {env!r}; known: {', '.join(known)}."


def cli_unknown_service(service: str, known: list[str]) -> str:
    return f"No service {service!r}; known: {', '.join(known)}."


def cli_status_line(
    service: str, env: str, deployments: Sequence[DeploymentState], lock: LockInfo | None
) -> str:
    """`api (staging): api runs repo:tag@sha256:… ×3, revision 4 · locked by …`."""
    parts = [
        f"{d.name} runs {d.image or '(no such container)'} ×{d.replicas}"
        + (f", revision {d.revision}" if d.revision is not None else "")
        + (" (paused)" if d.paused else "")
        for d in deployments
    ] or ["no Deployment found"]
    locked = f" · locked by {lock.holder}: {lock.reason}" if lock else ""
    return f"{service} ({env}): " + "; ".join(parts) + locked


def cli_history_line(when: str, who: str, tag: str, result: str, duration_s: float | None) -> str:
    took = f" in {duration_s:.0f}s" if duration_s is not None else ""
    return f"{when}  {tag or '(rollback)':<12} {who:<14} {result or 'rolling out'}{took}"


def cli_revision_line(number: int, image: str, change_cause: str | None) -> str:
    return f"revision {number:<4} {image}" + (f"  ({change_cause})" if change_cause else "")


def cli_interrupted() -> str:
    return (
        "Interrupted. A rollout already started keeps going in the cluster; "
        "`deckhand status` shows it."
    )


# --- approvals (commands.approvals, bot.approvals; helper H) ---------------------------

APPROVE_LABEL = "Approve"
REJECT_LABEL = "Reject"
FORCE_LABEL = "Force (freeze window)"
REASON_LABEL = "Reason"
REJECT_MODAL_TITLE = "Reject deploy"
FORCE_MODAL_TITLE = "Force through freeze"
SUBMIT_LABEL = "Submit"

_CLOSED = {
    "approved": "already approved (its rollout started)",
    "rejected": "rejected",
    "expired": "expired",
    "cancelled": "cancelled",
    "void": "void (its tag moved to another image)",
}


def approval_closed(request_id: str, state: str) -> str:
    return f"Deploy {_code(request_id)} is {_CLOSED.get(state, state)}: nothing to decide."


def approval_expired(request_id: str) -> str:
    return (
        f"The approval request for {_code(request_id)} expired: nothing was deployed. "
        "The requester can ask again with the same `/deploy` command."
    )


def approval_already_counted(request_id: str) -> str:
    return f"Your approval of {_code(request_id)} is already counted; it needs someone else's."


def approval_needs_force(env: str) -> str:
    return (
        f"{_code(env)} is in a deploy freeze: only an approver's *{FORCE_LABEL}*, with a "
        "reason, lets this deploy through."
    )


def approval_cancel_forbidden(request_id: str) -> str:
    return f"Only the requester or an approver can cancel {_code(request_id)}."


def approval_unknown(request_id: str) -> str:
    return f"Deckhand has no deploy {_code(request_id)} waiting for approval."


def approval_void_note(tag: str, services: Sequence[str]) -> str:
    return (
        f"{_code(tag)} now points at another image for {_list(services)}: the approval is "
        "void and nothing was deployed. Request the deploy again to approve the new image."
    )


def approval_recheck_refused(request_id: str, why: str) -> str:
    return (
        f"Deploy {_code(request_id)} can't start now: {why}\n"
        "The request stays open until it expires."
    )


def approval_title(services: Sequence[str], tag: str, env: str) -> str:
    return f"Approval needed: deploy {_list(services)} {_code(tag)} to {_code(env)}"


def approval_asks(requester: str, request_id: str, reason: str) -> str:
    why = f" · reason: {reason}" if reason else ""
    return f"{user(requester)} asks · {_code(request_id)}{why}"


def approval_change_line(service: str, current: str, new: str, digest: str, link: str) -> str:
    compare = f" · <{link}|compare>" if link else ""
    return (
        f"{_code(service)}: {_code(current or '(none)')} → {_code(new)}\n"
        f"digest {_code(digest)}{compare}"
    )


def approval_pending_line(required: int, voters: Sequence[str], expires: str) -> str:
    got = f" · approved by {', '.join(user(v) for v in voters)}" if voters else ""
    return f":hourglass: {len(voters)} of {required} approval(s){got} · expires {expires}"


def approval_freeze_notice(env: str) -> str:
    return (
        f":snowflake: {_code(env)} is in a deploy freeze: it deploys only if an approver "
        f"forces it with a reason (*{FORCE_LABEL}*)."
    )


def approval_done_line(state: str, who: Sequence[str], note: str, when: str) -> str:
    people = ", ".join(user(w) for w in who if w)
    by = f" by {people}" if people else ""
    why = f": {note}" if note else ""
    icons = {
        "approved": ":white_check_mark: Approved",
        "rejected": ":no_entry: Rejected",
        "expired": ":alarm_clock: Expired, not approved in time",
        "cancelled": ":wastebasket: Cancelled",
        "void": ":warning: Approval void",
    }
    return f"{icons.get(state, state)}{by} at {when}{why}"


def approval_counted(request_id: str, remaining: int) -> str:
    return f"Approval of {_code(request_id)} counted; {remaining} more needed."


def approval_cancelled(request_id: str) -> str:
    return f"Deploy {_code(request_id)} withdrawn: nothing was deployed."


def approval_reason_hint() -> str:
    return "Why? (one line; it is recorded and shown in the channel)"


def approval_history_header() -> str:
    return "Approval requests:"


def approval_history_line(when: str, request_id: str, tag: str, state: str, trail: str) -> str:
    return f"{when} · {_code(tag)} · {_code(request_id)} · {state}: {trail}"


def approval_event(kind: str, who: str, when: str, note: str) -> str:
    by = f" {user(who)}" if who else ""
    why = f" ({note})" if note else ""
    return f"{kind}{by} {when}{why}"


def approval_modal_intro(request_id: str, *, rejecting: bool) -> str:
    if rejecting:
        return f"Reject deploy {_code(request_id)}: nothing will be deployed."
    return f"Force deploy {_code(request_id)} through the deploy freeze."


# --- the doctor (bot.doctor) --------------------------------------------------------------


def doctor_fix_slack_token() -> str:
    return (
        "create the app from manifest.yaml, install it, and set SLACK_BOT_TOKEN (xoxb-…) "
        "in the deckhand-secrets Secret"
    )


def doctor_fix_slack_scopes() -> str:
    return "add the scopes from manifest.yaml to the app (OAuth & Permissions) and reinstall it"


def doctor_fix_kube() -> str:
    return (
        "in the cluster: check the ServiceAccount token is mounted; outside: set KUBECONFIG "
        "(or --kubeconfig) to a kubeconfig whose current context reaches the cluster"
    )


def doctor_fix_rbac(namespace: str) -> str:
    return (
        f"kubectl apply -k k8s/  (it grants these in {namespace}; add a Role + RoleBinding "
        f"pair for {namespace} to k8s/rbac-target-namespaces.yaml if it is new)"
    )


def doctor_fix_pull_secret(secret: str, namespace: str, registry: str) -> str:
    return (
        f"kubectl create secret docker-registry {secret} --docker-server={registry} "
        f"--docker-username=<user> --docker-password=<token with read:package> -n {namespace} "
        "--dry-run=client -o yaml | kubectl apply -f -"
    )


def doctor_summary(total: int, failed: int) -> str:
    if failed == 0:
        return f"All {total} checks passed."
    return f"{failed} of {total} checks failed: fix them, then run `deckhand check` again."


def break_glass_announcement(user: str, env: str, services: str, tag: str, reason: str) -> str:
    return (
        f":rotating_light: Break-glass deploy: {user} is deploying {services} `{tag}` to "
        f"{env} from the command line without approval. Reason: {reason}"
    )


def break_glass_not_announced(channel: str) -> str:
    return (
        f"Could not announce this break-glass deploy in <#{channel}>: tell the channel "
        "yourself. It is recorded in the deploy record and the change-cause."
    )
