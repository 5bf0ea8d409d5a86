"""The chat grammar: `parse(text) -> Request | ParseError`, forgiving and precise.

    [/deploy] [deploy] TARGETS TAG [ENV | to ENV | --env ENV | --env=ENV] [-- REASON…]
    status   [SERVICE] [ENV]             history SERVICE [ENV]
    rollback SERVICE [ENV] [to TAG | to #N | to rev N] [-- REASON…]
    restart  SERVICE [ENV] [-- REASON…]
    lock     SERVICE ENV [REASON…]       unlock  SERVICE ENV
    tags     SERVICE                     cancel  ID
    promote  TARGETS [from ENV] [to ENV] [-- REASON…]
    help     [TOPIC]

TARGETS is one name or a comma list (`api,worker`, `api, worker`); `SERVICE:TAG` and
`SERVICE@TAG` work too. ENV may come as a bare trailing word, after `to`/`in`/`on`/`at`, or as
`--env`/`-e`. Verbs are case-insensitive; names are lowercased; tags are kept as typed.
Slack's formatting is undone first: `<http://x|label>` links, `<@U…>` mentions,
backticks, bold, smart quotes, em dashes that were `--`, non-breaking spaces.

The parser knows nothing about which services or environments exist (that is
`commands.validate`'s job), so `status prod` yields `Status(service="prod")` and
validation re-reads it as an env. A word that is close to a verb but not one
(`staus`, `rollbak`, `hist`) is a typo, never a deploy target: the answer suggests the
verb and shows its usage. `commands.config` refuses service names that would collide
(`RESERVED_WORDS`, `verb_typo`).

`parse` never raises. It is a purely computational function with no side-effects.
"""

from __future__ import annotations

import difflib
import re

from commands import texts
from commands.images import TAG_PATTERN
from commands.requests import (
    MAX_REASON,
    NAME_PATTERN,
    REQUEST_ID_PATTERN,
    Cancel,
    Deploy,
    Help,
    History,
    Lock,
    ParseError,
    Promote,
    Request,
    Restart,
    Rollback,
    Status,
    Tags,
    Unlock,
)

VERBS: dict[str, str] = {
    "deploy": "deploy",
    "status": "status",
    "history": "history",
    "rollback": "rollback",
    "undo": "rollback",
    "restart": "restart",
    "lock": "lock",
    "unlock": "unlock",
    "tags": "tags",
    "tag": "tags",
    "cancel": "cancel",
    "help": "help",
    "promote": "promote",
}
"""Every verb as typed (lowercase) → the command it means."""

COMMANDS = (
    "deploy",
    "status",
    "history",
    "rollback",
    "restart",
    "lock",
    "unlock",
    "tags",
    "cancel",
    "promote",
    "help",
)
"""The canonical commands, in the order help lists them."""

_ENV_WORDS = frozenset({"to", "in", "on", "at", "into"})
_ENV_FLAGS = frozenset({"--env", "-e", "--environment"})
RESERVED_WORDS = frozenset(VERBS) | _ENV_WORDS | {"env", "rev", "revision"}
"""Words that can't name a service, group or environment: the grammar gives them meaning."""

MAX_TEXT = 2000
_SLACK_ESCAPE = re.compile(r"<([^<>]*)>")
_QUOTES = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "\u00a0": " ",
        "\u2007": " ",
        "\u202f": " ",
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
        "`": " ",
        "*": " ",
        "~": " ",
        "–": "—",
    }
)
_TRIM = "'\".,;!?()[]{}"


class _Fail(Exception):
    """Internal: unwinds a parse with the answer to give."""

    def __init__(self, error: ParseError) -> None:
        super().__init__(error.problem)
        self.error = error


def parse(text: str) -> Request | ParseError:
    """Parse one chat command. Never raises: a `Request` or a `ParseError` that says why.

    A purely computational function with no side-effects.
    """
    if len(text) > MAX_TEXT:
        return ParseError(texts.too_long(MAX_TEXT))
    try:
        return _parse(tokenize(text))
    except _Fail as failure:
        return failure.error
    except ValueError:  # a request's own invariant: the grammar let something through
        return ParseError(texts.not_understood(text.strip()[:80]))


def tokenize(text: str) -> list[str]:
    """Undo Slack's formatting and split into words (commas bind names: `a, b` → `a,b`)."""

    def unescape(match: re.Match[str]) -> str:
        inner = match.group(1)
        if "|" in inner:
            inner = inner.rsplit("|", 1)[1]
        if inner.startswith("!"):
            return " "
        return inner

    clean = _SLACK_ESCAPE.sub(unescape, text)
    clean = clean.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    clean = clean.translate(_QUOTES)
    clean = re.sub(r"(?<!\S)—(?=\S)", "--", clean)  # "—env" was "--env" before autocorrect
    clean = re.sub(r"(?<!\S)—(?!\S)", "--", clean)
    clean = re.sub(r"\s*,\s*", ",", clean)
    return clean.split()


def verb_typo(word: str) -> str | None:
    """The command `word` is probably a typo of (`staus` → status), else None.

    An exact verb is not a typo. A prefix of 3+ letters counts (`hist`, `roll`).
    """
    low = word.lower()
    if low in VERBS or len(low) < 3:
        return None
    for verb in COMMANDS:
        if verb.startswith(low):
            return verb
    # Fuzzy matching only against full command names: the short alias `tag` would make
    # `stage` look like a typo.
    close = difflib.get_close_matches(low, COMMANDS, n=1, cutoff=0.75)
    return close[0] if close else None


def _parse(tokens: list[str]) -> Request:
    while tokens and (tokens[0].startswith("@") or tokens[0].lower() in ("/deploy", "deckhand")):
        tokens = tokens[1:]
    if not tokens:
        return Help()
    head = tokens[0].lower().strip(_TRIM)
    if head in VERBS:
        command, rest = VERBS[head], tokens[1:]
    elif tokens[0] == "?":
        command, rest = "help", tokens[1:]
    elif (typo := verb_typo(head)) is not None:
        fixed = " ".join([typo, *tokens[1:]])
        raise _Fail(ParseError(texts.unknown_verb(tokens[0]), f"/deploy {fixed}", typo))
    else:
        command, rest = "deploy", tokens
    handler = _HANDLERS[command]
    return handler(rest)


def _fail(problem: str, topic: str, did_you_mean: str | None = None) -> _Fail:
    return _Fail(ParseError(problem, did_you_mean, topic))


def _name(word: str, kind: str, topic: str) -> str:
    name = word.strip(_TRIM).lower()
    if not NAME_PATTERN.fullmatch(name):
        raise _fail(texts.bad_name(kind, word), topic)
    return name


def _tag(word: str, topic: str) -> str:
    tag = word.strip("'\"").rstrip(".,;!?")  # a sentence's full stop is not part of it
    if tag.startswith("sha256:") or tag.startswith("@"):
        raise _fail(texts.digest_not_tag(), topic)
    if "/" in tag or ":" in tag:
        hint = tag.rsplit(":", 1)[1] if ":" in tag.rsplit("/", 1)[-1] else None
        raise _fail(texts.image_not_tag(tag, hint), topic)
    if not TAG_PATTERN.fullmatch(tag):
        raise _fail(texts.bad_tag(tag), topic)
    return tag


def _split_reason(tokens: list[str]) -> tuple[list[str], str | None]:
    if "--" not in tokens:
        return tokens, None
    index = tokens.index("--")
    return tokens[:index], _reason(tokens[index + 1 :])


def _reason(words: list[str]) -> str | None:
    reason = " ".join(words).strip()
    return reason[:MAX_REASON].strip() or None


def _take_env(
    tokens: list[str], topic: str, *, connectors: frozenset[str] = _ENV_WORDS
) -> tuple[list[str], str | None]:
    """Remove every `--env X`, `--env=X`, `-e X`, `to X`-style phrase; return the rest."""
    rest: list[str] = []
    envs: list[str] = []
    i = 0
    while i < len(tokens):
        word = tokens[i]
        low = word.lower()
        if low in _ENV_FLAGS or low in connectors:
            if i + 1 >= len(tokens):
                raise _fail(texts.missing_env_after(word), topic)
            envs.append(_name(tokens[i + 1], "environment", topic))
            i += 2
            continue
        flag, eq, value = low.partition("=")
        if eq and flag in _ENV_FLAGS:
            envs.append(_name(value, "environment", topic))
        elif low.startswith("-") and low != "--":
            raise _fail(texts.unknown_option(word), topic)
        else:
            rest.append(word)
        i += 1
    unique = list(dict.fromkeys(envs))
    if len(unique) > 1:
        raise _fail(texts.two_envs(unique[0], unique[1]), topic)
    return rest, (unique[0] if unique else None)


def _merge_env(option: str | None, positional: str | None, topic: str) -> str | None:
    if option and positional and option != positional:
        raise _fail(texts.two_envs(option, positional), topic)
    return option or positional


def _targets(word: str) -> tuple[str, ...]:
    names = [_name(piece, "service", "deploy") for piece in word.split(",") if piece.strip(_TRIM)]
    if not names:
        raise _fail(texts.missing_target(), "deploy")
    return tuple(dict.fromkeys(names))


def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _deploy(tokens: list[str]) -> Request:
    tokens, reason = _split_reason(tokens)
    positional, env = _take_env(tokens, "deploy")
    first = positional[0] if positional else ""
    if "/" not in first and ("@" in first or ":" in first):  # `api:237c6b8`, `api@237c6b8`
        targets_word, _, tag_word = first.replace("@", ":", 1).rpartition(":")
        positional = [targets_word, tag_word, *positional[1:]]
    if not positional:
        raise _fail(texts.missing_target(), "deploy")
    if len(positional) == 1:
        targets = _targets(positional[0])
        raise _fail(texts.missing_tag(",".join(targets)), "deploy")
    if len(positional) >= 3 and not _has_digit(positional[1]) and _has_digit(positional[-1]):
        # `api worker 237c6b8`: several services without commas, not a tag `worker`.
        fixed = ",".join(positional[:-1]) + " " + positional[-1]
        raise _fail(texts.targets_need_commas(), "deploy", f"/deploy {fixed}")
    if len(positional) > 3:
        raise _fail(texts.unexpected_words(" ".join(positional[3:])), "deploy")
    targets = _targets(positional[0])
    tag = _tag(positional[1], "deploy")
    bare_env = _name(positional[2], "environment", "deploy") if len(positional) == 3 else None
    return Deploy(targets, tag, _merge_env(env, bare_env, "deploy"), reason)


def _service_and_env(
    tokens: list[str], topic: str, *, need_service: bool
) -> tuple[str | None, str | None]:
    positional, env = _take_env(tokens, topic)
    if len(positional) > 2:
        raise _fail(texts.unexpected_words(" ".join(positional[2:])), topic)
    if need_service and not positional:
        raise _fail(texts.missing_service(topic), topic)
    service = _name(positional[0], "service", topic) if positional else None
    bare_env = _name(positional[1], "environment", topic) if len(positional) == 2 else None
    return service, _merge_env(env, bare_env, topic)


def _status(tokens: list[str]) -> Request:
    service, env = _service_and_env(tokens, "status", need_service=False)
    return Status(service, env)


def _history(tokens: list[str]) -> Request:
    service, env = _service_and_env(tokens, "history", need_service=True)
    assert service is not None  # need_service
    return History(service, env)


def _revision(word: str) -> int:
    digits = word.lstrip("#")
    if not digits.isdigit() or not 0 < int(digits) < 10**9:
        raise _fail(texts.bad_revision(word), "rollback")
    return int(digits)


def _rollback(tokens: list[str]) -> Request:
    tokens, reason = _split_reason(tokens)
    to: str | None = None
    revision: int | None = None
    kept: list[str] = []
    i = 0
    while i < len(tokens):
        low = tokens[i].lower()
        if low == "to":
            if i + 1 >= len(tokens):
                raise _fail(texts.missing_rollback_target(), "rollback")
            target = tokens[i + 1].lower()
            if target in ("rev", "revision", "r") and i + 2 < len(tokens):
                revision, i = _revision(tokens[i + 2]), i + 3
            elif target.startswith("#"):
                revision, i = _revision(target), i + 2
            else:
                to, i = _tag(tokens[i + 1], "rollback"), i + 2
            continue
        if low.startswith("#"):
            revision = _revision(low)
        else:
            kept.append(tokens[i])
        i += 1
    # `to` was consumed above, so only a bare word, in/on/at or --env name the env here.
    service, env = _service_and_env(kept, "rollback", need_service=True)
    assert service is not None
    if to is not None and revision is not None:
        raise _fail(texts.tag_and_revision(), "rollback")
    return Rollback(service, env, to, revision, reason)


def _restart(tokens: list[str]) -> Request:
    tokens, reason = _split_reason(tokens)
    service, env = _service_and_env(tokens, "restart", need_service=True)
    assert service is not None  # need_service
    return Restart(service, env, reason)


def _service_env_prefix(tokens: list[str], topic: str) -> tuple[str, str, list[str]]:
    """`SERVICE ENV rest…` or `SERVICE in ENV rest…` / `SERVICE --env ENV rest…`."""
    if not tokens:
        raise _fail(texts.missing_service(topic), topic)
    service = _name(tokens[0], "service", topic)
    rest = tokens[1:]
    if rest and "=" in rest[0] and rest[0].lower().partition("=")[0] in _ENV_FLAGS:
        return service, _name(rest[0].partition("=")[2], "environment", topic), rest[1:]
    if rest and (rest[0].lower() in _ENV_WORDS or rest[0].lower() in _ENV_FLAGS):
        rest = rest[1:]
    if not rest:
        raise _fail(texts.missing_env(topic), topic)
    return service, _name(rest[0], "environment", topic), rest[1:]


def _lock(tokens: list[str]) -> Request:
    service, env, rest = _service_env_prefix(tokens, "lock")
    if rest and rest[0] == "--":
        rest = rest[1:]
    return Lock(service, env, _reason(rest))


def _unlock(tokens: list[str]) -> Request:
    service, env, rest = _service_env_prefix(tokens, "unlock")
    if rest:
        raise _fail(texts.unexpected_words(" ".join(rest)), "unlock")
    return Unlock(service, env)


def _tags(tokens: list[str]) -> Request:
    if not tokens:
        raise _fail(texts.missing_service("tags"), "tags")
    if len(tokens) > 1:
        raise _fail(texts.unexpected_words(" ".join(tokens[1:])), "tags")
    return Tags(_name(tokens[0], "service", "tags"))


def _cancel(tokens: list[str]) -> Request:
    if not tokens:
        raise _fail(texts.missing_request_id(), "cancel")
    if len(tokens) > 1:
        raise _fail(texts.unexpected_words(" ".join(tokens[1:])), "cancel")
    request_id = tokens[0].strip(_TRIM).lstrip("#")
    if not REQUEST_ID_PATTERN.fullmatch(request_id):
        raise _fail(texts.bad_request_id(tokens[0]), "cancel")
    return Cancel(request_id)


def _help(tokens: list[str]) -> Request:
    topic = tokens[0].strip(_TRIM).lower() if tokens else ""
    return Help(topic if NAME_PATTERN.fullmatch(topic) else None)


def _promote(tokens: list[str]) -> Request:
    tokens, reason = _split_reason(tokens)
    source: str | None = None
    kept: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i].lower() == "from":
            if i + 1 >= len(tokens):
                raise _fail(texts.missing_env_after(tokens[i]), "promote")
            source, i = _name(tokens[i + 1], "environment", "promote"), i + 2
            continue
        kept.append(tokens[i])
        i += 1
    positional, env = _take_env(kept, "promote")
    if not positional:
        raise _fail(texts.missing_target(), "promote")
    if len(positional) > 1:
        raise _fail(texts.unexpected_words(" ".join(positional[1:])), "promote")
    targets = tuple(
        dict.fromkeys(_name(p, "service", "promote") for p in positional[0].split(",") if p)
    )
    return Promote(targets, source, env, reason)


_HANDLERS = {
    "deploy": _deploy,
    "status": _status,
    "history": _history,
    "rollback": _rollback,
    "restart": _restart,
    "lock": _lock,
    "unlock": _unlock,
    "tags": _tags,
    "cancel": _cancel,
    "help": _help,
    "promote": _promote,
}
