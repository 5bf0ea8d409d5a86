"""`bot.config.load_config`: the example loads; every broken file gives `ConfigError`
lines `FILE: key.path: what is wrong (expected …)` and never a traceback: missing,
directory, unreadable, binary, non-UTF-8, empty, not a mapping, YAML syntax (with
line and column), duplicate keys, wrong types, unknown keys, cross-field relations.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "deckhand.yaml"


def test_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert set(config.services) == {"api", "worker", "admin"}
    assert config.services["worker"].max_replicas == 1
    assert config.groups["all"] == ("api", "worker", "admin")
    assert config.resolve_env("prod") == "production"
    assert config.resolve_env(None) == "staging"
    assert config.environments["production"].namespace == "honeydue"
    assert config.environments["production"].approvals.required == 1
    assert config.environments["staging"].namespace == "honeydue-staging"


def _load(tmp_path: Path, content: str | bytes) -> list[str]:
    path = tmp_path / "deckhand.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == "\n".join(info.value.problems)
    assert all(line.startswith(str(path)) for line in info.value.problems)
    return [line.removeprefix(str(path)) for line in info.value.problems]


def _example(old: str, new: str) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.yaml: no such file \(expected the YAML config"):
        load_config(tmp_path / "nope.yaml")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "deckhand.yaml"
    path.write_text("services: {}\n")
    path.chmod(0)
    with pytest.raises(ConfigError, match="can't read it: Permission denied"):
        load_config(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00", ": is a binary file (expected YAML text)"),
        (b"services: \xff\xfe\n", ": is not UTF-8 text (byte 0xff at offset 10)"),
        ("", ": is empty (expected a mapping with services and environments)"),
        ("services: null\nenvironments: {}\n", ": services: is None (expected a mapping)"),
        (
            "!!python/object:os.system x\n",
            ":1:1: YAML syntax error: could not determine a constructor for the tag",
        ),
        ("# only a comment\n", ": is empty"),
        ("- api\n- worker\n", ": the top level is a list (expected a mapping"),
        ("just words\n", ": the top level is a str"),
        ("services: [api\n", ":2:1: YAML syntax error: while parsing a flow sequence: expected"),
        ("a:\n  b: 1\n c: 2\n", ":3:2: YAML syntax error:"),
        ("services:\n\tapi: 1\n", ":2:1: YAML syntax error:"),
        ("a: 1\nb: 2\na: 3\n", ":3: duplicate key 'a' (first at line 1; keep one)"),
        ("@@@ garbage: [}\n", ":1:1: YAML syntax error:"),
    ],
)
def test_unusable_files(tmp_path: Path, content: str | bytes, expected: str) -> None:
    lines = _load(tmp_path, content)
    assert lines[0].startswith(expected), lines


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("history_size: 10", "history_size: ten",
         ": history_size: is 'ten' (expected an integer)"),
        ("history_size: 10", "histroy_size: 10", ": histroy_size: unknown key (expected one of: "
         "services, groups, environments, default_environment"),
        ("    namespace: honeydue\n", "    namspace: honeydue\n",
         ": environments.production.namspace: unknown key (expected one of: namespace,"),
        ("    namespace: honeydue\n", "\n", ": environments.production.namespace: is missing"),
        ("    protected: true ", "    protected: maybe ",
         ": environments.production.protected: is 'maybe' (expected true or false)"),
        ("max_replicas: 1", "max_replicas: -1",
         ": services.worker.max_replicas: is -1 (expected at least 1)"),
        ("history_size: 10", "history_size: 1000",
         ": history_size: is 1000 (expected at most 100)"),
        ("  - {name: api, container: api}", "  - api",
         ": services.api.deployments[0]: is 'api' (expected a mapping)"),
        ("  all: [api, worker, admin]", "  all: [api, worker, admin]\n  7: [api]",
         ": groups[7]: is not a valid key (expected a name)"),
        ("aliases: [stage, stg]", "aliases: stage",
         ": environments.staging.aliases: is 'stage' (expected a list)"),
        ("      windows: []", "      windows: [{days: [friday], start: '16:00', end: '08:00'}]",
         ": environments.production.approvals.windows[0].days[0]: is 'friday' (expected 'mon', "),
        ("      windows: []", "      windows: [{days: [fri], start: '4pm', end: '08:00'}]",
         ": environments.production.approvals.windows[0].start: '4pm' is not a time"),
        ("      expiry_minutes: 30", "      allow_self_approval: true",
         ": environments.production.approvals.allow_self_approval: is not configurable: the "
         "requester never approves"),
        ("  all: [api, worker, admin]", "  all: [api, wrker, admin]",
         ": groups.all[1]: unknown service 'wrker' (expected one of 'api', 'worker', 'admin'; "
         "did you mean 'worker'?)"),
        ("aliases: [prod, prd]", "aliases: [stage, prd]",
         ": environments.production.aliases: 'stage' already names environment 'staging'"),
        ("  pattern: \"^[0-9a-f]{7,40}$\"", "  pattern: \"^[0-9a-f{7,40}$\"",
         ": tag_policy.pattern: '^[0-9a-f{7,40}$' is not a valid regular expression"),
        ("  platform: linux/amd64", "  platform: amd64",
         ": tag_policy.platform: `amd64` is not a platform: expected os/architecture"),
        ("        users: [U0ALICE001, U0BOB00001, U0CAROL001]", "        users: []",
         ": environments.production.approvals.approvers: 1 approval(s) required but nobody can "
         "approve (expected approvers.users or approvers.usergroups)"),
        ("    channels: [C0DEPLOYS1]     # #deploys", "    channels: ['#deploys']",
         ": environments.staging.channels[0]: '#deploys' is not a Slack channel id (expected e.g."),
        ("default_environment: staging", "default_environment: stagin",
         ": default_environment: unknown environment 'stagin' (expected one of"),
        ("  worker:\n", "  status:\n", ": services.status: 'status' is a Deckhand command word"),
    ],
)  # fmt: skip
def test_wrong_keys(tmp_path: Path, old: str, new: str, expected: str) -> None:
    content = _example(old, new)
    lines = _load(tmp_path, content)
    assert any(line.startswith(expected) for line in lines), lines


def test_every_field_problem_at_once(tmp_path: Path) -> None:
    content = _example("history_size: 10", "history_size: ten\nbogus: 1")
    content = content.replace("    namespace: honeydue\n", "    namespace: Honey_Due\n")
    lines = _load(tmp_path, content)
    assert len(lines) == 3, lines
    assert any("history_size" in line for line in lines)
    assert any("bogus: unknown key" in line for line in lines)
    assert any(
        "production.namespace: 'Honey_Due' is not a Kubernetes name" in line for line in lines
    )


def test_list_item_errors_are_not_repeated_as_too_short(tmp_path: Path) -> None:
    lines = _load(tmp_path, _example("  - {name: api, container: api}", "  - api"))
    assert len(lines) == 1, lines


def test_every_relation_problem_at_once(tmp_path: Path) -> None:
    content = _example("  all: [api, worker, admin]", "  all: [api, wrker, admn]")
    content = content.replace("default_environment: staging", "default_environment: qa")
    lines = _load(tmp_path, content)
    assert len(lines) == 3, lines


def test_field_and_relation_problems_at_once(tmp_path: Path) -> None:
    content = _example("history_size: 10", "history_size: ten")
    content = content.replace("  all: [api, worker, admin]", "  all: [api, wrker, admin]")
    content = content.replace("aliases: [prod, prd]", "aliases: [stage, prd]")
    lines = _load(tmp_path, content)
    assert lines == [
        ": history_size: is 'ten' (expected an integer)",
        ": groups.all[1]: unknown service 'wrker' (expected one of 'api', 'worker', 'admin'; "
        "did you mean 'worker'?)",
        ": environments.production.aliases: 'stage' already names environment 'staging'",
    ]


@pytest.mark.parametrize(
    "content",
    ["services: 1\ngroups: {all: [x]}\n", "environments: [a]\ndefault_environment: x\n",
     "services: {api: 1}\ngroups: {all: api}\nenvironments: {x: 1}\n",
     "groups: {all: [1, {a: b}]}\nenvironments: {prod: {aliases: 3}}\n"],
)  # fmt: skip
def test_relations_on_broken_shapes_add_no_noise(tmp_path: Path, content: str) -> None:
    lines = _load(tmp_path, content)
    assert not any("unknown service" in line or "unknown environment" in line for line in lines)


def test_quoted_and_unquoted_times_agree(tmp_path: Path) -> None:
    window = "{days: [fri], start: %s, end: %s, timezone: Europe/Berlin}"
    for start, end in (("16:00", "08:00"), ('"16:00"', "'08:00'")):
        path = tmp_path / "deckhand.yaml"
        path.write_text(_example("      windows: []", f"      windows: [{window % (start, end)}]"))
        config = load_config(path)
        (parsed,) = config.environments["production"].approvals.windows
        assert (parsed.start.hour, parsed.end.hour) == (16, 8)
