"""The rollout engine: apply a plan, follow it to a verdict, roll back, lock, record.

engine.py    RolloutEngine (check / execute / rollback / status / history / tags / lock /
             unlock / resume_in_flight) on validated values; `refusing`
execute.py   Runner: lock → record → patch → follow → auto-rollback → report once
apply.py     the strategic-merge patches of a DeployPlan, partial failures named
follow.py    Follower: watches → commands.rollout_decisions.judge → verdict
observe.py   the four watches (Deployment, ReplicaSets, pods, pod events) merged
explain.py   a failure in words (commands.diagnosis) + registry re-check + crash logs
recheck.py   the registry asked again with the namespace's own pull secret
rollback.py  `kubectl rollout undo` (JSON patch of /spec/template + annotations)
locks.py     Lease locks per service+env: deploy locks (renewed) and manual locks
records.py   one ConfigMap per deploy; history, in-flight, exactly-once report claim
cluster_reads.py  cluster JSON → commands.plan's DeploymentState / Revision / LockInfo
outcome.py   Outcome / ServiceOutcome, the summary lines, Progress events
wording.py   the engine's sentences (to move into commands/texts.py)
(shared infrastructure lives beside the features: `bot/clock.py`, `bot/tasks.py`)
"""
