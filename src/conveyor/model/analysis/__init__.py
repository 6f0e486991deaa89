"""Argo Rollouts' analysis kinds and their condition language, as pure data.

``expr`` reads and evaluates successCondition/failureCondition (the subset of expr-lang that
Argo's documentation and examples use); ``kinds`` holds AnalysisTemplate,
ClusterAnalysisTemplate and AnalysisRun with Argo's field names and defaults; ``status`` the
AnalysisRun status shape. Nothing here does I/O: the run planner and the metric providers
live in ``conveyor.analysis``.
"""
