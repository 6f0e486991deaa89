"""The engine: sync operations, the reconcile loop, self-heal, rollouts and analysis."""
