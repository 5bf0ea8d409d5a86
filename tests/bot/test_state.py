"""`bot.state.ConfigMapStore` against the sandbox cluster, with a small test codec.

Covers: create then get (and `Conflict` on a second create, `NotFound` for none);
`update` compare-and-swap: two updates racing on one record are both applied (the loser
of the race is asked again on the fresh record), `None` writes nothing, labels follow
the record, a stale write is refused; `select` by label skips a ConfigMap that carries
the label but doesn't decode; `delete`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from bot.kube.client import KubeClient
from bot.kube.errors import Conflict, NotFound
from bot.kube.kinds import CONFIGMAPS, KubeObject, labels_of, resource_version
from bot.state import Codec, ConfigMapStore

NS = "deckhand"


@dataclass(frozen=True)
class Note:
    id: str
    colour: str
    items: tuple[str, ...] = ()


def _to_data(note: Note) -> tuple[dict[str, str], dict[str, str]]:
    labels = {"test.deckhand.dev/record": "note", "test.deckhand.dev/colour": note.colour}
    return labels, {"id": note.id, "colour": note.colour, "items": ",".join(note.items)}


def _from_configmap(obj: KubeObject) -> Note:
    data = obj.get("data") or {}
    items = data["items"]
    return Note(data["id"], data["colour"], tuple(items.split(",")) if items else ())


CODEC: Codec[Note] = Codec(lambda n: f"note-{n.id}", _to_data, _from_configmap)


def store(kube: KubeClient) -> ConfigMapStore[Note]:
    return ConfigMapStore(kube, NS, CODEC)


async def test_create_get_delete(kube: KubeClient) -> None:
    notes = store(kube)
    assert await notes.create(Note("a", "red")) == Note("a", "red")
    assert await notes.get("note-a") == Note("a", "red")
    with pytest.raises(Conflict):
        await notes.create(Note("a", "blue"))
    await notes.delete("note-a")
    with pytest.raises(NotFound):
        await notes.get("note-a")
    with pytest.raises(NotFound):
        await notes.delete("note-a")


async def test_racing_updates_are_both_applied(kube: KubeClient) -> None:
    notes = store(kube)
    await notes.create(Note("a", "red"))
    asked: list[str] = []

    def add(item: str) -> Callable[[Note], Note]:
        def change(note: Note) -> Note:
            asked.append(item)
            return replace(note, items=(*note.items, item))

        return change

    await asyncio.gather(notes.update("note-a", add("x")), notes.update("note-a", add("y")))
    assert sorted((await notes.get("note-a")).items) == ["x", "y"]  # no lost update
    assert len(asked) == 3  # both read the same version: the one that lost was asked again


async def test_update_none_keeps_and_labels_follow(kube: KubeClient) -> None:
    notes = store(kube)
    await notes.create(Note("a", "red"))
    before = await kube.get(CONFIGMAPS, "note-a", namespace=NS)
    assert await notes.update("note-a", lambda n: None) == Note("a", "red")
    unchanged = await kube.get(CONFIGMAPS, "note-a", namespace=NS)
    assert resource_version(unchanged) == resource_version(before)  # nothing written
    await notes.update("note-a", lambda n: replace(n, colour="blue"))
    after = await kube.get(CONFIGMAPS, "note-a", namespace=NS)
    assert labels_of(after)["test.deckhand.dev/colour"] == "blue"
    with pytest.raises(Conflict):  # a write based on the old version is refused
        await kube.replace(CONFIGMAPS, before, namespace=NS)


async def test_select_by_label(kube: KubeClient) -> None:
    notes = store(kube)
    for note in (Note("a", "red"), Note("b", "blue"), Note("c", "red", ("x",))):
        await notes.create(note)
    foreign = {
        "metadata": {"name": "not-a-note", "labels": {"test.deckhand.dev/colour": "red"}},
        "data": {"something": "else"},
    }
    await kube.create(CONFIGMAPS, foreign, namespace=NS)
    red = await notes.select("test.deckhand.dev/colour=red")
    assert sorted(red, key=lambda n: n.id) == [Note("a", "red"), Note("c", "red", ("x",))]
    assert len(await notes.select("test.deckhand.dev/record=note")) == 3
    assert await notes.select("test.deckhand.dev/colour=green") == []
