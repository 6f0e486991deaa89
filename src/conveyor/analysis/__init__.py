"""Argo Rollouts' analysis, run: the planner that decides what to measure and what a run's
phase is, and the metric providers that take the measurements.

``planner`` is pure (an AnalysisRun's spec, its status and ``now`` in; tasks, a new status
and a wake-up time out), so the runtime's AnalysisRun controller, the CLI's one-shot
``conveyor analysis run`` and the tests share one implementation of Argo's rules.
``providers`` does the I/O (HTTP to Prometheus or any web endpoint) behind one Protocol.
"""
