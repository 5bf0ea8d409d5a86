"""Load the YAML config file into `commands.config.DeckhandConfig`, or say what's wrong.

    load_config(path) -> DeckhandConfig          raises ConfigError

`ConfigError` is the one error of this boundary. Its `problems` are lines of the form
`FILE: key.path: what is wrong (expected …)` (or `FILE:LINE:COLUMN: …` for YAML
syntax), and `str(error)` is all of them, one per line: every problem in the file at
once, never a traceback. It covers a missing, unreadable, binary or empty file, YAML
syntax errors, duplicate keys, wrong types, unknown keys and the relations checked by
the models (unknown group members, alias collisions, approvals without approvers…).
Pydantic checks relations only once every field is valid, so the loader also runs
them on the raw YAML when fields failed (`commands.config_checks`).

Why not pydantic-settings' `YamlConfigSettingsSource`: it treats a missing file as an
empty config, lets a duplicated key silently win, and reads `16:00` as the integer
960 (YAML 1.1 base-60). Here the file is read with a loader that refuses duplicate
keys and keeps `HH:MM` a string; the team's config is not mixed with environment
variables (those are `bot.settings.Settings`, which says where this file is).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from commands.config import DeckhandConfig
from commands.config_checks import REFUSED_KEYS, ConfigProblems, ConfigShape, relation_problems

MAX_BYTES = 1_000_000


class ConfigError(Exception):
    """The config file can't be used. `problems` are complete lines, `str()` joins them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


def load_config(path: Path | str) -> DeckhandConfig:
    """Read, parse and validate the config file at `path`; raise `ConfigError`."""
    path = Path(path)
    data = read_yaml(path)
    try:
        return DeckhandConfig.model_validate(data)
    except ValidationError as error:
        lines = describe(path, error)
        if not any(_is_relations(item) for item in error.errors()):
            # Field errors stop pydantic before the relation checks: run them on the raw
            # mapping so the first run already lists every problem.
            problems = relation_problems(ConfigShape.from_raw(data))
            lines += [f"{path}: {_path(p.path)}: {p.message}" for p in problems]
        raise ConfigError(lines) from None


def _is_relations(item: Any) -> bool:
    return not item["loc"] and isinstance(item.get("ctx", {}).get("error"), ConfigProblems)


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping; `ConfigError` for anything else."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            [f"{name}: no such file (expected the YAML config; see examples/deckhand.yaml)"]
        ) from None
    except IsADirectoryError:
        raise ConfigError([f"{name}: is a directory (expected a YAML file)"]) from None
    except OSError as error:
        raise ConfigError([f"{name}: can't read it: {error.strerror or error}"]) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError([f"{name}: is {len(raw)} bytes (expected a config under 1 MB)"])
    if b"\x00" in raw:
        raise ConfigError([f"{name}: is a binary file (expected YAML text)"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            [f"{name}: is not UTF-8 text (byte {raw[error.start]:#04x} at offset {error.start})"]
        ) from None
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        raise ConfigError([_syntax(name, error)]) from None
    except yaml.YAMLError as error:
        raise ConfigError([f"{name}: YAML error: {error}"]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ConfigError([f"{name}:{line}: {message}" for line, message in loader.duplicates])
    if data is None:
        raise ConfigError([f"{name}: is empty (expected a mapping with services and environments)"])
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise ConfigError(
            [f"{name}: the top level is {kind} (expected a mapping with services, environments…)"]
        )
    return data


def _syntax(name: str, error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
    what = ": ".join(part for part in (error.context, error.problem) if part)
    return f"{where}: YAML syntax error: {what}"


class _Loader(yaml.SafeLoader):
    """SafeLoader that records duplicate keys and keeps `16:00` a string."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                self.duplicates.append(
                    (line, f"duplicate key {key!r} (first at line {seen[key]}; keep one)")
                )
            elif isinstance(key, str | int | float | bool):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_base60_safe_int(self, node: yaml.ScalarNode) -> int | str:
        value = self.construct_scalar(node)
        if isinstance(value, str) and ":" in value:
            return value  # `16:00` is a time of day here, never base-60 arithmetic
        return super().construct_yaml_int(node)


_INT = "tag:yaml.org,2002:int"
_Loader.add_constructor(_INT, _Loader.construct_base60_safe_int)


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
    "list_type": "a list",
    "time_type": 'a time "HH:MM"',
    "time_parsing": 'a time "HH:MM"',
}


def describe(path: Path, error: ValidationError) -> list[str]:
    """One line per problem in a pydantic `ValidationError` of `DeckhandConfig`."""
    lines: list[str] = []
    items = error.errors(include_url=False)
    locs = [tuple(item["loc"]) for item in items]
    for item, loc in zip(items, locs, strict=True):
        found = item.get("ctx", {}).get("error")
        if isinstance(found, ConfigProblems):
            for problem in found.problems:
                lines.append(f"{path}: {_path(loc + problem.path)}: {problem.message}")
            continue
        if item["type"] == "too_short" and any(o[: len(loc)] == loc != o for o in locs):
            continue  # a list whose items were all wrong: those errors say more
        if loc and loc[-1] == "[key]":
            lines.append(f"{path}: {_path(loc[:-1])}: is not a valid key (expected a name)")
            continue
        lines.append(f"{path}: {_path(loc)}: {_message(item, loc)}")
    return lines


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _message(item: Any, loc: tuple[Any, ...]) -> str:
    kind = item["type"]
    value = item.get("input")
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "…"
    if kind == "missing":
        return "is missing (expected a value)"
    if kind == "extra_forbidden" and loc and loc[-1] in REFUSED_KEYS:
        return REFUSED_KEYS[loc[-1]]
    if kind == "extra_forbidden":
        allowed = _keys_at(loc[:-1])
        expected = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return f"unknown key{expected}"
    if kind == "value_error":
        return str(item["msg"]).removeprefix("Value error, ")
    if kind in _EXPECTED:
        return f"is {shown} (expected {_EXPECTED[kind]})"
    if kind == "literal_error":
        return f"is {shown} (expected {item['ctx']['expected']})"
    ctx = item.get("ctx", {})
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return (
            f"is empty (expected at least {least})"
            if not value
            else f"is {shown} (expected ≥ {least} items)"
        )
    bounds = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
              "greater_than": ("gt", "more than"), "less_than": ("lt", "less than")}  # fmt: skip
    if kind in bounds:
        key, words = bounds[kind]
        return f"is {shown} (expected {words} {ctx.get(key)})"
    message = str(item["msg"])
    return f"is {shown}: {message[0].lower()}{message[1:]}"


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed in the mapping at `loc` (walks the models' annotations)."""
    model: Any = DeckhandConfig
    annotation: Any = DeckhandConfig
    for part in loc:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = _unwrap(field.annotation)
        elif get_origin(annotation) in (dict, tuple, list):
            annotation = _unwrap(get_args(annotation)[-1 if get_origin(annotation) is dict else 0])
        else:
            return []
    model = annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) not in (dict, tuple, list) and len(args) == 1:
        return args[0]
    return annotation
