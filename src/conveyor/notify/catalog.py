"""The built-in triggers and templates: Argo CD's notification catalog and Argo Rollouts'.

Argo CD ships its catalog as a ConfigMap to install; Conveyor has it built in, as the data of
an ``argocd-notifications-cm`` that the user's own ConfigMap overrides key by key. The
conditions are the catalog's, written in the expr-lang subset Conveyor evaluates
(``notify.conditions``). Argo Rollouts sends its triggers on the controller's events
(RolloutCompleted, RolloutAborted, RolloutPaused, AnalysisRunFailed); Conveyor writes them as
conditions over the live Rollout and AnalysisRun, with ``oncePer`` where Argo sends once per
event, so they go through the same engine. Templates are Jinja2 (``notify.templates``).
"""

from __future__ import annotations

_APP_FIELDS = """\
slack:
  attachments: |
    [{"title": "{{ app.metadata.name }}", "color": "%s",
      "fields": [
        {"title": "Sync Status", "value": "{{ app.status.sync.status }}", "short": true},
        {"title": "Repository", "value": "{{ app.spec.source.repoURL }}", "short": true},
        {"title": "Revision", "value": "{{ app.status.sync.revision }}", "short": true}]}]
"""

_OP = "app.status.operationState != nil and app.status.operationState.phase in "

CATALOG: dict[str, str] = {
    # -- Argo CD: triggers ---------------------------------------------------------------------
    "trigger.on-created": """\
- description: Application is created.
  oncePer: app.metadata.name
  send: [app-created]
  when: "true"
""",
    "trigger.on-deleted": """\
- description: Application is deleted.
  oncePer: app.metadata.name
  send: [app-deleted]
  when: app.metadata.deletionTimestamp != nil
""",
    "trigger.on-deployed": f"""\
- description: Application is synced and healthy. Triggered once per commit.
  oncePer: app.status.operationState?.syncResult?.revision
  send: [app-deployed]
  when: {_OP}['Succeeded'] and app.status.health.status == 'Healthy'
""",
    "trigger.on-health-degraded": """\
- description: Application has degraded
  send: [app-health-degraded]
  when: app.status.health.status == 'Degraded'
""",
    "trigger.on-sync-failed": f"""\
- description: Application syncing has failed
  send: [app-sync-failed]
  when: {_OP}['Error', 'Failed']
""",
    "trigger.on-sync-running": f"""\
- description: Application is being synced
  send: [app-sync-running]
  when: {_OP}['Running']
""",
    "trigger.on-sync-status-unknown": """\
- description: Application status is 'Unknown'
  send: [app-sync-status-unknown]
  when: app.status.sync.status == 'Unknown'
""",
    "trigger.on-sync-succeeded": f"""\
- description: Application syncing has succeeded
  send: [app-sync-succeeded]
  when: {_OP}['Succeeded']
""",
    # -- Argo Rollouts: triggers ---------------------------------------------------------------
    "trigger.on-rollout-completed": """\
- description: Rollout is completed (the new version is stable).
  oncePer: rollout.status.currentPodHash
  send: [rollout-completed]
  when: >-
    rollout.status.phase == 'Healthy'
    and rollout.status.stableRS == rollout.status.currentPodHash
""",
    "trigger.on-rollout-aborted": """\
- description: Rollout is aborted.
  oncePer: rollout.status.currentPodHash
  send: [rollout-aborted]
  when: rollout.status.abort == true
""",
    "trigger.on-rollout-paused": """\
- description: Rollout is paused.
  send: [rollout-paused]
  when: rollout.status.phase == 'Paused' or len(rollout.status.pauseConditions ?? []) > 0
""",
    "trigger.on-analysis-run-failed": """\
- description: Analysis run of a rollout has failed.
  oncePer: analysisRun.metadata.name
  send: [analysis-run-failed]
  when: analysisRun.status.phase == 'Failed'
""",
    # -- Argo CD: templates --------------------------------------------------------------------
    "template.app-created": "message: Application {{ app.metadata.name }} has been created.\n",
    "template.app-deleted": "message: Application {{ app.metadata.name }} has been deleted.\n",
    "template.app-deployed": (
        "message: |\n"
        "  {% if serviceType == 'slack' %}:white_check_mark:{% endif %} Application "
        "{{ app.metadata.name }} is now running new version of deployments manifests.\n"
    )
    + _APP_FIELDS % "#18be52",
    "template.app-health-degraded": (
        "message: |\n"
        "  {% if serviceType == 'slack' %}:exclamation:{% endif %} Application "
        "{{ app.metadata.name }} has degraded.\n"
    )
    + _APP_FIELDS % "#f4c030",
    "template.app-sync-failed": (
        "message: |\n"
        "  {% if serviceType == 'slack' %}:exclamation:{% endif %} The sync operation of "
        "application {{ app.metadata.name }} has failed at "
        "{{ app.status.operationState.finishedAt }} with the following error: "
        "{{ app.status.operationState.message }}\n"
    )
    + _APP_FIELDS % "#E96D76",
    "template.app-sync-running": (
        "message: |\n"
        "  The sync operation of application {{ app.metadata.name }} has started at "
        "{{ app.status.operationState.startedAt }}.\n"
    )
    + _APP_FIELDS % "#0DADEA",
    "template.app-sync-status-unknown": (
        "message: |\n"
        "  {% if serviceType == 'slack' %}:exclamation:{% endif %} Application "
        "{{ app.metadata.name }} sync is 'Unknown'.\n"
    )
    + _APP_FIELDS % "#E96D76",
    "template.app-sync-succeeded": (
        "message: |\n"
        "  {% if serviceType == 'slack' %}:white_check_mark:{% endif %} Application "
        "{{ app.metadata.name }} has been successfully synced at "
        "{{ app.status.operationState.finishedAt }}.\n"
    )
    + _APP_FIELDS % "#18be52",
    # -- Argo Rollouts: templates --------------------------------------------------------------
    "template.rollout-completed": (
        "message: Rollout {{ rollout.metadata.name }} has been completed.\n"
    ),
    "template.rollout-aborted": "message: Rollout {{ rollout.metadata.name }} has been aborted.\n",
    "template.rollout-paused": "message: Rollout {{ rollout.metadata.name }} has been paused.\n",
    "template.analysis-run-failed": (
        "message: Rollout {{ rollout.metadata.name }}'s analysis run failed.\n"
    ),
}
"""The catalog as ConfigMap data: the user's ``argocd-notifications-cm`` keys replace these."""

APP_TRIGGERS = (
    "on-created",
    "on-deleted",
    "on-deployed",
    "on-health-degraded",
    "on-sync-failed",
    "on-sync-running",
    "on-sync-status-unknown",
    "on-sync-succeeded",
)
ROLLOUT_TRIGGERS = (
    "on-rollout-completed",
    "on-rollout-aborted",
    "on-rollout-paused",
    "on-analysis-run-failed",
)
