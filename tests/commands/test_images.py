"""`commands.images`: reference grammar and defaults, pinning, platform matching, tag hints.

Table-driven: each row is one input and the value (or the error) it must give.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.images import ImageReference, InvalidReference, Platform, parse, suggest_tags

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", None, None),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
        ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None),
        ("docker.io/nginx", "docker.io", "library/nginx", None, None),
        ("index.docker.io/library/nginx:x", "docker.io", "library/nginx", "x", None),
        ("gitea.example.com/admin/api:237c6b9", "gitea.example.com", "admin/api", "237c6b9", None),
        ("127.0.0.1:5000/admin/api:v1", "127.0.0.1:5000", "admin/api", "v1", None),
        ("localhost/api", "localhost", "api", None, None),
        ("localhost:5000/a/b/c", "localhost:5000", "a/b/c", None, None),
        (f"reg.io/a/b@{D}", "reg.io", "a/b", None, D),
        (f"reg.io/a/b:t@{D}", "reg.io", "a/b", "t", D),
        ("reg.io/a-b__c.d/e--f:_T.9-x", "reg.io", "a-b__c.d/e--f", "_T.9-x", None),
        ("  reg.io/a/b:t  ", "reg.io", "a/b", "t", None),
    ],
)
def test_parse_valid(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    assert parse(text) == ImageReference(registry, repository, tag, digest)
    assert ImageReference.parse(text) == parse(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("reg.io/a b:t", "spaces"),
        ("reg.io/Admin/api:t", "lowercase"),
        ("reg.io/a/b:", "empty"),
        ("reg.io/a/b:-x", "not valid"),
        ("reg.io/a/b:" + "x" * 129, "longer than 128"),
        ("reg.io/a/b@sha256:abc", "malformed digest"),
        (f"reg.io/a/b@md5:{'a' * 64}", "malformed digest"),
        ("reg.io/a//b", "invalid repository"),
        ("reg.io/a_-b", "invalid repository"),
        ("reg.io/", "invalid repository"),
        (":tag", "no repository"),
        ("-bad.io/a", "invalid registry"),
        ("reg.io/" + "a" * 260, "too long"),
    ],
)
def test_parse_invalid_says_why(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReference) as info:
        parse(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("ref", "text", "reference"),
    [
        (ImageReference("r.io", "a/b"), "r.io/a/b", "latest"),
        (ImageReference("r.io", "a/b", "t"), "r.io/a/b:t", "t"),
        (ImageReference("r.io", "a/b", "t", D), f"r.io/a/b:t@{D}", D),
        (ImageReference("r.io", "a/b", None, D), f"r.io/a/b@{D}", D),
    ],
)
def test_str_and_reference(ref: ImageReference, text: str, reference: str) -> None:
    assert str(ref) == text
    assert ref.reference == reference
    assert parse(text) == ref


def test_with_digest_and_pinned() -> None:
    ref = parse("r.io/a/b:t")
    pinned = ref.with_digest(D)
    assert pinned.pinned() == f"r.io/a/b:t@{D}"
    assert pinned.tag == "t"
    with pytest.raises(ValueError, match="no digest"):
        ref.pinned()
    with pytest.raises(InvalidReference, match="not a digest"):
        ref.with_digest("sha256:xyz")
    assert pinned.with_tag("u") == ImageReference("r.io", "a/b", "u", None)
    with pytest.raises(InvalidReference):
        ref.with_tag("-u")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
        ("Linux/ARM64", Platform("linux", "arm64")),
        ("linux/aarch64", Platform("linux", "arm64")),
        ("linux/x86_64", Platform("linux", "amd64")),
        ("linux/armhf", Platform("linux", "arm", "v7")),
    ],
)
def test_platform_parse(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


@pytest.mark.parametrize("text", ["linux", "linux/", "a/b/c/d", "/amd64", ""])
def test_platform_parse_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="not a platform"):
        Platform.parse(text)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("linux/amd64", "linux/amd64", True),
        ("linux/arm64", "linux/arm64/v8", True),
        ("linux/arm64/v8", "linux/arm64", True),
        ("linux/amd64", "linux/amd64/v2", True),
        ("linux/amd64/v1", "linux/amd64", True),
        ("linux/amd64/v2", "linux/amd64/v3", False),
        ("linux/amd64", "linux/arm64", False),
        ("linux/arm/v7", "linux/arm", True),
        ("linux/arm/v6", "linux/arm/v7", False),
        ("linux/amd64", "windows/amd64", False),
    ],
)
def test_platform_matches(a: str, b: str, expected: bool) -> None:
    pa, pb = Platform.parse(a), Platform.parse(b)
    assert pa.matches(pb) is expected
    assert pb.matches(pa) is expected


@pytest.mark.parametrize(
    ("text", "shown"),
    [("linux/amd64", "linux/amd64"), ("linux/arm64/v8", "linux/arm64/v8")],
)
def test_platform_str(text: str, shown: str) -> None:
    assert str(Platform.parse(text)) == shown


@pytest.mark.parametrize(
    ("wanted", "existing", "expected"),
    [
        ("237c6b9", ["237c6b8", "9f00aa1", "237c6ba", "ffffff0"], ["237c6b8", "237c6ba"]),
        ("237c6b", ["237c6b9a", "1111111"], ["237c6b9a"]),
        ("237c6b9abc", ["237c6b9", "0000000"], ["237c6b9"]),
        ("ABC1234", ["abc1234", "abc1235"], ["abc1234", "abc1235"]),
        ("zzzzzzz", ["1234567", "abcdef0"], []),
        ("v1.2.3", ["v1.2.4", "v1.2.5", "v1.2.6", "v1.2.7"], ["v1.2.4", "v1.2.5", "v1.2.6"]),
        ("x", [], []),
    ],
)
def test_suggest_tags(wanted: str, existing: list[str], expected: list[str]) -> None:
    assert suggest_tags(wanted, existing) == expected


def test_suggest_tags_n() -> None:
    assert len(suggest_tags("v1", ["v1.0", "v1.1", "v1.2", "v1.3"], n=2)) == 2


_component = st.from_regex(r"[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,6}){0,2}", fullmatch=True)
_host = st.sampled_from(["gitea.example.com", "127.0.0.1:5000", "localhost", "reg.io:443"])


@settings(max_examples=40, deadline=None)
@given(
    registry=_host,
    parts=st.lists(_component, min_size=1, max_size=3),
    tag=st.none() | st.from_regex(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}", fullmatch=True),
    digest=st.none() | st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
)
def test_str_parse_round_trip(
    registry: str, parts: list[str], tag: str | None, digest: str | None
) -> None:
    ref = ImageReference(registry, "/".join(parts), tag, digest)
    assert parse(str(ref)) == ref
