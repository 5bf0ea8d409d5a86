"""The sandbox kubelet's own image-reference parser (`sandbox.cluster.imageref`), checked
against distribution's `ParseNormalizedNamed` / `ParseDockerRef` behaviour, and the
platform matching its puller uses. Independent of Deckhand's `commands.images`."""

from __future__ import annotations

import pytest

from sandbox.cluster.imageref import BadReference, Platform, containerd_ref, parse_ref

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("ubuntu", "docker.io/library/ubuntu:latest"),
        ("docker.io/ubuntu", "docker.io/library/ubuntu:latest"),
        ("index.docker.io/ubuntu:22.04", "docker.io/library/ubuntu:22.04"),
        ("admin/api", "docker.io/admin/api:latest"),
        ("localhost/foo", "localhost/foo:latest"),
        ("localhost:5000/foo:bar", "localhost:5000/foo:bar"),
        ("gitea.example.com/admin/api:237c6b9", "gitea.example.com/admin/api:237c6b9"),
        (f"gitea.example.com/admin/api:237c6b9@{DIGEST}", f"gitea.example.com/admin/api@{DIGEST}"),
        ("127.0.0.1:5000/a/b-c__d.e:v1.2_3", "127.0.0.1:5000/a/b-c__d.e:v1.2_3"),
        ("[::1]:5000/foo:x", "[::1]:5000/foo:x"),
        ("Registry/foo", "Registry/foo:latest"),  # an upper-case first part is a domain
    ],
)
def test_references_normalize_as_containerd_does(text: str, normalized: str) -> None:
    assert containerd_ref(parse_ref(text)) == normalized


@pytest.mark.parametrize(
    "text",
    [
        "",
        "api:",
        "foo/Bar",
        "UPPER",
        "admin/api:-tag",
        "admin/api@sha256:abc",
        "admin//api",
        "admin/api:" + "t" * 129,
        "a" * 64,
        "gitea.example.com/admin/api tag",
        "gitea.example.com/" + "a/" * 130 + "b",
    ],
)
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(BadReference):
        parse_ref(text)


@pytest.mark.parametrize(
    ("image", "node", "runs"),
    [
        (Platform("linux", "amd64"), Platform("linux", "amd64"), True),
        (Platform("linux", "arm64", "v8"), Platform("linux", "arm64"), True),
        (Platform("linux", "arm64"), Platform("linux", "amd64"), False),
        (Platform("linux", "amd64", "v3"), Platform("linux", "amd64"), True),
        (Platform("linux", "arm", "v6"), Platform("linux", "arm"), False),
        (Platform("windows", "amd64"), Platform("linux", "amd64"), False),
    ],
)
def test_platform_matching(image: Platform, node: Platform, runs: bool) -> None:
    assert image.matches(node) is runs
    assert node.matches(image) is runs
