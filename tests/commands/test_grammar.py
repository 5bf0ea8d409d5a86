"""`commands.grammar.parse`: every command form, Slack formatting, typos, and the
property that arbitrary text never raises nor yields a structurally invalid request.

Table-driven: each row is one line someone could type and the value it must give.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.grammar import RESERVED_WORDS, parse, tokenize, verb_typo
from commands.requests import (
    NAME_PATTERN,
    REQUEST_ID_PATTERN,
    Cancel,
    Deploy,
    Help,
    History,
    Lock,
    ParseError,
    Request,
    Restart,
    Rollback,
    Status,
    Tags,
    Unlock,
)

TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/deploy api 237c6b8", Deploy(("api",), "237c6b8")),
        ("api 237c6b8", Deploy(("api",), "237c6b8")),
        ("deploy api 237c6b8", Deploy(("api",), "237c6b8")),
        ("DEPLOY Api 237c6b8", Deploy(("api",), "237c6b8")),
        ("api 237c6b8 to prod", Deploy(("api",), "237c6b8", "prod")),
        ("api 237c6b8 prod", Deploy(("api",), "237c6b8", "prod")),
        ("api 237c6b8 --env prod", Deploy(("api",), "237c6b8", "prod")),
        ("api 237c6b8 --env=prod", Deploy(("api",), "237c6b8", "prod")),
        ("api 237c6b8 -e prod", Deploy(("api",), "237c6b8", "prod")),
        ("--env prod api 237c6b8", Deploy(("api",), "237c6b8", "prod")),
        ("api 237c6b8 in Prod.", Deploy(("api",), "237c6b8", "prod")),
        ("api 237c6b8 prod --env prod", Deploy(("api",), "237c6b8", "prod")),
        ("api,worker 237c6b8", Deploy(("api", "worker"), "237c6b8")),
        ("api, worker 237c6b8", Deploy(("api", "worker"), "237c6b8")),
        ("api ,worker,  admin 237c6b8", Deploy(("api", "worker", "admin"), "237c6b8")),
        ("api,api 237c6b8", Deploy(("api",), "237c6b8")),
        ("api,,worker 237c6b8", Deploy(("api", "worker"), "237c6b8")),
        ("all 237c6b8", Deploy(("all",), "237c6b8")),
        ("api:237c6b8 prod", Deploy(("api",), "237c6b8", "prod")),
        ("api@237c6b8", Deploy(("api",), "237c6b8")),
        ("api,worker:237c6b8", Deploy(("api", "worker"), "237c6b8")),
        ("api 237c6b8.", Deploy(("api",), "237c6b8")),
        ("  api\t 237c6b8  \n", Deploy(("api",), "237c6b8")),
        ("api 237C6B8", Deploy(("api",), "237C6B8")),
        ("api 237c6b8 prod -- fixes login", Deploy(("api",), "237c6b8", "prod", "fixes login")),
        ("api 237c6b8 -- ", Deploy(("api",), "237c6b8")),
        ("api latest", Deploy(("api",), "latest")),
        # Slack formatting
        ("<@U0BOT> api 237c6b8", Deploy(("api",), "237c6b8")),
        ("`api` `237c6b8` *prod*", Deploy(("api",), "237c6b8", "prod")),
        ("api 237c6b8 —env prod", Deploy(("api",), "237c6b8", "prod")),
        ("api 237c6b8 — hotfix", Deploy(("api",), "237c6b8", None, "hotfix")),
        ("api “237c6b8” to ‘prod’", Deploy(("api",), "237c6b8", "prod")),
        ("api\u00a0237c6b8\u200b", Deploy(("api",), "237c6b8")),
        ("<http://api.example|api> 237c6b8", Deploy(("api",), "237c6b8")),
        ("api 237c6b8 <!here>", Deploy(("api",), "237c6b8")),
        # the other commands
        ("status", Status()),
        ("Status api", Status("api")),
        ("status prod", Status("prod")),
        ("status api prod", Status("api", "prod")),
        ("status api --env=prod", Status("api", "prod")),
        ("status in prod", Status(None, "prod")),
        ("history api", History("api")),
        ("history api prod", History("api", "prod")),
        ("rollback api", Rollback("api")),
        ("rollback api prod", Rollback("api", "prod")),
        ("rollback api in prod", Rollback("api", "prod")),
        ("rollback api prod to 1a2b3c4", Rollback("api", "prod", to="1a2b3c4")),
        ("rollback api to 1a2b3c4 prod", Rollback("api", "prod", to="1a2b3c4")),
        ("rollback api prod to #7", Rollback("api", "prod", revision=7)),
        ("rollback api prod to rev 7", Rollback("api", "prod", revision=7)),
        ("rollback api #7", Rollback("api", None, revision=7)),
        ("undo api prod -- bad build", Rollback("api", "prod", reason="bad build")),
        ("restart api", Restart("api")),
        ("restart api staging", Restart("api", "staging")),
        (
            "restart api in prod -- pull secret renewed",
            Restart("api", "prod", "pull secret renewed"),
        ),
        ("restart api --env=prod", Restart("api", "prod")),
        ("lock api prod", Lock("api", "prod")),
        ("lock api prod db migration in progress", Lock("api", "prod", "db migration in progress")),
        ("lock api in prod -- release", Lock("api", "prod", "release")),
        ("lock api --env=prod frozen", Lock("api", "prod", "frozen")),
        ("unlock api prod", Unlock("api", "prod")),
        ("unlock api on prod", Unlock("api", "prod")),
        ("tags api", Tags("api")),
        ("tag api", Tags("api")),
        ("cancel d-7f3a2c", Cancel("d-7f3a2c")),
        ("cancel #D-7f3a2c", Cancel("D-7f3a2c")),
        ("help", Help()),
        ("help rollback", Help("rollback")),
        ("HELP Deploy", Help("deploy")),
        ("help ???", Help()),
        ("?", Help()),
        ("", Help()),
        ("/deploy", Help()),
        ("   ", Help()),
    ],
)
def test_parses(text: str, expected: Request) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "topic", "did_you_mean", "says"),
    [
        ("staus api", "status", "/deploy status api", "`staus` is not a Deckhand command"),
        ("rollbak api prod", "rollback", "/deploy rollback api prod", "`rollbak`"),
        ("hist api", "history", "/deploy history api", "`hist`"),
        ("unlcok api prod", "unlock", "/deploy unlock api prod", "`unlcok`"),
        ("deploy", "deploy", None, "Which service?"),
        ("api", "deploy", None, "Which tag of `api`?"),
        ("api to prod", "deploy", None, "Which tag of `api`?"),
        ("api worker 237c6b8", "deploy", "/deploy api,worker 237c6b8", "commas"),
        ("api 237c6b8 prod staging", "deploy", None, "`staging`"),
        ("api 237c6b8 to prod --env staging", "deploy", None, "Two environments"),
        ("api 237c6b8 to", "deploy", None, "needs an environment after it"),
        ("api 237c6b8 --force", "deploy", None, "Unknown option `--force`"),
        ("api 237c6b8 prod extra words", "deploy", None, "`extra words`"),
        ("api sha256:abc", "deploy", None, "not by digest"),
        ("api gitea.example.com/admin/honeydue-api:237c6b8", "deploy", None, "`237c6b8`"),
        ("api .hidden", "deploy", None, "not a valid tag"),
        ("Ap!i 237c6b8", "deploy", None, "not a valid service name"),
        ("api 237c6b8 pr#d", "deploy", None, "not a valid environment name"),
        ("history", "history", None, "needs a service"),
        ("status a b c", "status", None, "`c`"),
        ("rollback api to", "rollback", None, "Roll back to what?"),
        ("rollback api to #x", "rollback", None, "not a revision number"),
        ("rollback api to #0", "rollback", None, "not a revision number"),
        ("rollback api to 1a2b3c4 to #3", "rollback", None, "not both"),
        ("restart", "restart", None, "needs a service"),
        ("restart api prod now", "restart", None, "`now`"),
        ("restrat api prod", "restart", "/deploy restart api prod", "`restrat`"),
        ("lock api", "lock", None, "needs a service and an environment"),
        ("lock", "lock", None, "needs a service"),
        ("unlock api prod now", "unlock", None, "`now`"),
        ("tags", "tags", None, "needs a service"),
        ("tags api prod", "tags", None, "`prod`"),
        ("cancel", "cancel", None, "Which deploy?"),
        ("cancel a b", "cancel", None, "`b`"),
        ("cancel ***", "cancel", None, "Which deploy?"),
        ("cancel d/1", "cancel", None, "not a deploy id"),
    ],
)
def test_parse_errors(text: str, topic: str, did_you_mean: str | None, says: str) -> None:
    result = parse(text)
    assert isinstance(result, ParseError)
    assert result.help_topic == topic
    assert result.did_you_mean == did_you_mean
    assert says in result.problem
    assert says in result.text


def test_parse_error_text_shows_suggestion_and_usage() -> None:
    result = parse("staus api")
    assert isinstance(result, ParseError)
    assert "Did you mean `/deploy status api`?" in result.text
    assert "/deploy status [SERVICE] [ENV]" in result.text


def test_too_long() -> None:
    result = parse("api " + "x" * 5000)
    assert isinstance(result, ParseError)
    assert "longer than" in result.problem


@pytest.mark.parametrize(
    ("word", "verb"),
    [
        ("staus", "status"),
        ("stat", "status"),
        ("hist", "history"),
        ("rollbak", "rollback"),
        ("roll", "rollback"),
        ("cancle", "cancel"),
        ("deplyo", "deploy"),
        ("hepl", "help"),
        ("status", None),
        ("tag", None),
        ("api", None),
        ("worker", None),
        ("admin", None),
        ("stage", None),
        ("prod", None),
        ("st", None),
    ],
)
def test_verb_typo(word: str, verb: str | None) -> None:
    assert verb_typo(word) == verb


def test_tokenize_undoes_slack_formatting() -> None:
    assert tokenize("<#C0123|deploys> `api`, *worker*  &lt;x&gt;") == [
        "deploys",
        "api,worker",
        "<x>",
    ]


def _structurally_valid(request: Request) -> None:
    match request:
        case Deploy(targets=targets, tag=tag, env=env, reason=reason):
            assert targets
            assert all(NAME_PATTERN.fullmatch(t) and t.strip() for t in targets)
            assert TAG.fullmatch(tag)
            assert env is None or NAME_PATTERN.fullmatch(env)
            assert reason is None or (reason.strip() == reason and reason)
        case Status(service=service, env=env):
            assert service is None or NAME_PATTERN.fullmatch(service)
            assert env is None or NAME_PATTERN.fullmatch(env)
        case History(service=service) | Tags(service=service) | Unlock(service=service):
            assert NAME_PATTERN.fullmatch(service)
        case Rollback(service=service, to=to, revision=revision):
            assert NAME_PATTERN.fullmatch(service)
            assert to is None or TAG.fullmatch(to)
            assert revision is None or (revision >= 1 and to is None)
        case Lock(service=service, env=env):
            assert NAME_PATTERN.fullmatch(service)
            assert NAME_PATTERN.fullmatch(env)
        case Cancel(request_id=request_id):
            assert REQUEST_ID_PATTERN.fullmatch(request_id)
        case Help(topic=topic):
            assert topic is None or NAME_PATTERN.fullmatch(topic)


_WORDS = st.sampled_from(
    [*sorted(RESERVED_WORDS), "api", "api,worker", "237c6b8", "prod", "--env", "--env=prod",
     "--", "#3", "-e", ",", "`", "<@U1>", "<x|y>", "—", "rev", "to", "A:b", ":", "sha256:x"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    result = parse(text)
    if not isinstance(result, ParseError):
        _structurally_valid(result)
    else:
        assert result.text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_WORDS, st.text(min_size=1, max_size=12)), max_size=8))
def test_command_like_text_never_raises(words: list[str]) -> None:
    result = parse(" ".join(words))
    if not isinstance(result, ParseError):
        _structurally_valid(result)
    else:  # a refusal a person can act on: a sentence, with the usage to type
        assert result.text.strip()
        assert "`" in result.text, result.text
