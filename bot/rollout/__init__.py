"""The rollout engine: apply a plan, follow it to a verdict, roll back, lock, record."""
