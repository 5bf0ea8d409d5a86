"""The Deployment controller: ReplicaSets per template, rolling updates, status and conditions.

Follows kube-controller-manager's `pkg/controller/deployment` (v1.32): `syncDeployment`
picks one path per sync (status only for a deleted Deployment; scaling for a paused
one or a changed `spec.replicas`; else `rolloutRolling` / `rolloutRecreate`). The
arithmetic lives in `rollout` and the status in `conditions` (both pure); this
module reads the cache, writes through the store and records `ScalingReplicaSet`
events.

Revisions: a new ReplicaSet gets max(old revisions) + 1; an old one whose template
comes back (`kubectl rollout undo`) is re-used and gets the new max, its previous
number going to `deployment.kubernetes.io/revision-history`. The Deployment's
annotations (all but the controller's own and kubectl's last-applied) are copied
onto its newest ReplicaSet, which is how `kubernetes.io/change-cause` reaches
`kubectl rollout history`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sandbox.cluster.clock import Clock
from sandbox.cluster.controllers import conditions, rollout, texts
from sandbox.cluster.controllers.events import EventRecorder
from sandbox.cluster.controllers.informer import (
    Cache,
    Key,
    Timers,
    WorkQueue,
    controller_of,
    key_of,
)
from sandbox.cluster.errors import ApiError
from sandbox.cluster.resources import DEPLOYMENTS, PODS, REPLICASETS, Resource
from sandbox.cluster.store import Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]
COMPONENT = "deployment-controller"


def owner_ref(obj: Obj) -> Obj:
    """A controller ownerReference to `obj`."""
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


class DeploymentController:
    def __init__(
        self, store: Store, clock: Clock, cache: Cache, recorder: EventRecorder, timers: Timers
    ) -> None:
        self.store = store
        self.clock = clock
        self.cache = cache
        self.recorder = recorder
        self.queue = WorkQueue("deployment-controller", timers)

    # ---- events in ----

    def on_change(self, kind: str, resource: Resource, obj: Obj) -> None:
        if resource is DEPLOYMENTS:
            if kind != "DELETED":
                self.queue.add(key_of(obj))
        elif resource is REPLICASETS:
            self._enqueue_owner(obj)
        elif resource is PODS and kind == "DELETED":
            # Recreate waits for the old pods to be gone.
            ref = controller_of(obj)
            if ref and ref.get("kind") == "ReplicaSet":
                rs = self.cache.get(REPLICASETS, obj["metadata"].get("namespace", ""), ref["name"])
                if rs is not None:
                    self._enqueue_owner(rs)

    def _enqueue_owner(self, rs: Obj) -> None:
        ref = controller_of(rs)
        if ref and ref.get("kind") == "Deployment":
            self.queue.add((rs["metadata"].get("namespace", ""), ref["name"]))

    # ---- one sync ----

    def sync(self, key: Key) -> None:
        namespace, name = key
        d = self.cache.get(DEPLOYMENTS, namespace, name)
        if d is None:
            return
        rss = self.cache.owned(REPLICASETS, d["metadata"]["uid"], namespace)
        if d["metadata"].get("deletionTimestamp"):
            self._sync_status(d, rss, None)
            return
        d = self._check_paused(d)
        if d.get("spec", {}).get("paused") or rollout.is_scaling_event(d, rss):
            self._sync_scale(d, rss)
        elif rollout.is_rolling(d):
            self._rolling(d, rss)
        else:
            self._recreate(d, rss)

    def _rolling(self, d: Obj, rss: Sequence[Obj]) -> None:
        d, new_rs, old = self._new_and_old(d, rss, create=True)
        if new_rs is None:
            return  # a name collision: collisionCount went up, the next sync retries
        step = rollout.reconcile_new(d, [*old, new_rs], new_rs)
        if step is not None:
            new_rs = self._scale(d, new_rs, step.replicas)
            self._sync_rollout_status(d, [*old, new_rs], new_rs)
            return
        scales = rollout.reconcile_old(d, [*old, new_rs], old, new_rs)
        if scales:
            old = self._apply(d, old, scales)
            self._sync_rollout_status(d, [*old, new_rs], new_rs)
            return
        if conditions.complete(d, d.get("status") or {}):
            self._cleanup(d, old)
        self._sync_rollout_status(d, [*old, new_rs], new_rs)

    def _recreate(self, d: Obj, rss: Sequence[Obj]) -> None:
        d, new_rs, old = self._new_and_old(d, rss, create=False)
        scales = rollout.recreate_old(old)
        if scales:
            old = self._apply(d, old, scales)
            self._sync_rollout_status(d, [*old, new_rs], new_rs)
            return
        if self._old_pods_running(new_rs, old):
            self._sync_rollout_status(d, [*old, new_rs], new_rs)
            return
        if new_rs is None:
            d, new_rs, old = self._new_and_old(d, rss, create=True)
            if new_rs is None:
                return
        if rollout.replicas(new_rs) != rollout.replicas(d):
            new_rs = self._scale(d, new_rs, rollout.replicas(d))
        if conditions.complete(d, d.get("status") or {}):
            self._cleanup(d, old)
        self._sync_rollout_status(d, [*old, new_rs], new_rs)

    def _sync_scale(self, d: Obj, rss: Sequence[Obj]) -> None:
        d, new_rs, old = self._new_and_old(d, rss, create=False)
        scales = rollout.scale(d, new_rs, old)
        everything = [*old] + ([new_rs] if new_rs is not None else [])
        everything = self._apply(d, everything, scales)
        by_name = {rs["metadata"]["name"]: rs for rs in everything}
        if new_rs is not None:
            new_rs = by_name[new_rs["metadata"]["name"]]
        old = [rs for rs in everything if rs is not new_rs]
        if d.get("spec", {}).get("paused"):
            self._cleanup(d, old)
        self._sync_status(d, [*old, new_rs], new_rs)

    # ---- ReplicaSets ----

    def _new_and_old(
        self, d: Obj, rss: Sequence[Obj], *, create: bool
    ) -> tuple[Obj, Obj | None, list[Obj]]:
        """`getAllReplicaSetsAndSyncRevision`: (Deployment, new RS or None, old RSs)."""
        new_rs = rollout.find_new_rs(d, rss)
        old = [rs for rs in rss if rs is not new_rs]
        new_revision = str(rollout.max_revision(old) + 1)
        if new_rs is not None:
            notes = self._new_rs_annotations(d, new_rs, new_revision, exists=True)
            min_ready = rollout.min_ready_seconds(d)
            if (
                notes != rollout.annotations_of(new_rs)
                or rollout.min_ready_seconds(new_rs) != min_ready
            ):

                def update(rs: Obj) -> None:
                    rs["metadata"]["annotations"] = notes
                    rs["spec"]["minReadySeconds"] = min_ready

                new_rs = self._write(REPLICASETS, new_rs, update)
            d = self._set_revision(d, rollout.annotations_of(new_rs).get(texts.REVISION, ""))
            status = copy.deepcopy(d.get("status") or {})
            if (
                rollout.progress_deadline(d) is not None
                and conditions.get_condition(status, "Progressing") is None
            ):
                conditions.set_condition(
                    status,
                    conditions.new_condition(
                        "Progressing",
                        "True",
                        texts.FOUND_NEW_RS_REASON,
                        texts.found_new_rs(new_rs["metadata"]["name"]),
                        self.clock.now(),
                    ),
                )
                d = self._write_status(d, status)
            return d, new_rs, old
        if not create:
            return d, None, old
        created, d = self._create_new_rs(d, old, new_revision)
        return d, created, old

    def _create_new_rs(
        self, d: Obj, old: Sequence[Obj], new_revision: str
    ) -> tuple[Obj | None, Obj]:
        meta = d["metadata"]
        namespace = meta.get("namespace", "")
        collisions = (d.get("status") or {}).get("collisionCount")
        template = copy.deepcopy(d["spec"]["template"])
        pod_hash = rollout.template_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[texts.POD_TEMPLATE_HASH] = (
            pod_hash
        )
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[texts.POD_TEMPLATE_HASH] = pod_hash
        size = rollout.new_rs_new_replicas(d, old, 0)
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{pod_hash}",
                "namespace": namespace,
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [owner_ref(d)],
            },
            "spec": {
                "replicas": size,
                "minReadySeconds": rollout.min_ready_seconds(d),
                "selector": selector,
                "template": template,
            },
        }
        rs["metadata"]["annotations"] = self._new_rs_annotations(d, rs, new_revision, exists=False)
        already_exists = False
        try:
            created = self.store.create(REPLICASETS, rs, namespace=namespace)
        except ApiError as e:
            if e.code != 409:
                raise
            existing = self.store.get(REPLICASETS, namespace, rs["metadata"]["name"])
            ref = controller_of(existing)
            if (
                ref
                and ref.get("uid") == meta["uid"]
                and rollout.equal_ignore_hash(existing["spec"]["template"], d["spec"]["template"])
            ):
                created, already_exists = existing, True
            else:  # a hash collision: bump collisionCount and try again next sync
                status = copy.deepcopy(d.get("status") or {})
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                d = self._write_status(d, status)
                self.queue.add(key_of(d))
                return None, d
        self.cache.apply("ADDED", REPLICASETS, created)
        if not already_exists and size > 0:
            self._event(d, texts.scaled_replica_set("up", created["metadata"]["name"], 0, size))
        d = self._set_revision(d, new_revision)
        if not already_exists and rollout.progress_deadline(d) is not None:
            status = copy.deepcopy(d.get("status") or {})
            conditions.set_condition(
                status,
                conditions.new_condition(
                    "Progressing",
                    "True",
                    texts.NEW_RS_REASON,
                    texts.created_new_rs(created["metadata"]["name"]),
                    self.clock.now(),
                ),
            )
            d = self._write_status(d, status)
        return created, d

    def _new_rs_annotations(
        self, d: Obj, rs: Obj, new_revision: str, *, exists: bool
    ) -> dict[str, str]:
        """`SetNewReplicaSetAnnotations`: the annotations the new ReplicaSet should carry."""
        notes = dict(rollout.annotations_of(rs))
        notes.update(rollout.copyable_annotations(d))
        had_revision = texts.REVISION in notes
        old_text = notes.get(texts.REVISION, "")
        try:
            old_revision = int(old_text) if old_text else 0
        except ValueError:
            return notes
        if old_revision < int(new_revision):
            notes[texts.REVISION] = new_revision
            if had_revision:
                notes[texts.REVISION_HISTORY] = rollout.revision_history_after(
                    old_text, notes.get(texts.REVISION_HISTORY, "")
                )
        if not exists:
            notes.update(rollout.replica_annotations(d))
        return notes

    def _scale(self, d: Obj, rs: Obj, size: int) -> Obj:
        """`scaleReplicaSet`: set the size and the replica annotations; event on a size change."""
        before = rollout.replicas(rs)
        notes = rollout.replica_annotations(d)
        current = rollout.annotations_of(rs)
        if before == size and all(current.get(k) == v for k, v in notes.items()):
            return rs

        def update(obj: Obj) -> None:
            obj["spec"]["replicas"] = size
            obj["metadata"].setdefault("annotations", {}).update(notes)

        rs = self._write(REPLICASETS, rs, update)
        if before != size:
            direction = "up" if size > before else "down"
            self._event(
                d, texts.scaled_replica_set(direction, rs["metadata"]["name"], before, size)
            )
        return rs

    def _apply(self, d: Obj, rss: Sequence[Obj], scales: Sequence[rollout.Scale]) -> list[Obj]:
        by_name = {rs["metadata"]["name"]: rs for rs in rss}
        for step in scales:
            if step.name in by_name:
                by_name[step.name] = self._scale(d, by_name[step.name], step.replicas)
        return [by_name[rs["metadata"]["name"]] for rs in rss]

    def _cleanup(self, d: Obj, old: Sequence[Obj]) -> None:
        for name in rollout.cleanup(d, old):
            try:
                gone = self.store.delete(REPLICASETS, d["metadata"].get("namespace"), name)
            except ApiError as e:
                if e.code != 404:
                    raise
                continue
            self.cache.apply("DELETED", REPLICASETS, gone)

    def _old_pods_running(self, new_rs: Obj | None, old: Sequence[Obj]) -> bool:
        if rollout.total_status(old, "replicas") > 0:
            return True
        for rs in old:
            if new_rs is not None and rs["metadata"]["uid"] == new_rs["metadata"]["uid"]:
                continue
            pods = self.cache.owned(
                PODS, rs["metadata"]["uid"], rs["metadata"].get("namespace", "")
            )
            if any(
                (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded") for p in pods
            ):
                return True
        return False

    # ---- status ----

    def _check_paused(self, d: Obj) -> Obj:
        cond = conditions.paused_condition(d, self.clock.now())
        if cond is None:
            return d
        status = copy.deepcopy(d.get("status") or {})
        conditions.set_condition(status, cond)
        return self._write_status(d, status)

    def _sync_status(self, d: Obj, all_rss: Sequence[Obj | None], new_rs: Obj | None) -> None:
        status = conditions.calculate_status(d, all_rss, new_rs, self.clock.now())
        if status != (d.get("status") or {}):
            self._write_status(d, status)

    def _sync_rollout_status(
        self, d: Obj, all_rss: Sequence[Obj | None], new_rs: Obj | None
    ) -> None:
        now = self.clock.now()
        status = conditions.rollout_status(d, all_rss, new_rs, now)
        if status != (d.get("status") or {}):
            d = self._write_status(d, status)
        after = conditions.requeue_after(d, status, now)
        if after is not None:
            self.queue.add_after(key_of(d), after)

    def _set_revision(self, d: Obj, revision: str) -> Obj:
        if not revision or rollout.annotations_of(d).get(texts.REVISION) == revision:
            return d

        def update(obj: Obj) -> None:
            obj["metadata"].setdefault("annotations", {})[texts.REVISION] = revision

        return self._write(DEPLOYMENTS, d, update)

    # ---- writes ----

    def _write(self, resource: Resource, obj: Obj, fn: Callable[[Obj], None]) -> Obj:
        meta = obj["metadata"]
        new = self.store.mutate(resource, meta.get("namespace"), meta["name"], fn)
        self.cache.apply("MODIFIED", resource, new)
        return new

    def _write_status(self, d: Obj, status: Obj) -> Obj:
        meta = d["metadata"]

        def update(obj: Obj) -> None:
            obj["status"] = status

        new = self.store.mutate(
            DEPLOYMENTS, meta.get("namespace"), meta["name"], update, subresource="status"
        )
        self.cache.apply("MODIFIED", DEPLOYMENTS, new)
        return new

    def _event(self, d: Obj, message: str) -> None:
        self.recorder.record(d, reason="ScalingReplicaSet", message=message, component=COMPONENT)
