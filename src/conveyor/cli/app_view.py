"""Applications as argocd prints them: the ``app get`` summary, the list and the tables.

Pure functions from the API's JSON to rows and lines, so that every command shows an app the
same way and tests can check the text without a server.
"""

from __future__ import annotations

from typing import Any

import typer

from conveyor.cli import output

IN_CLUSTER = "https://kubernetes.default.svc"


def _spec(app: dict[str, Any]) -> dict[str, Any]:
    return dict(app.get("spec") or {})


def _status(app: dict[str, Any]) -> dict[str, Any]:
    return dict(app.get("status") or {})


def name(app: dict[str, Any]) -> str:
    return str((app.get("metadata") or {}).get("name", ""))


def sync_status(app: dict[str, Any]) -> str:
    return str((_status(app).get("sync") or {}).get("status") or "Unknown")


def health_status(app: dict[str, Any]) -> str:
    return str((_status(app).get("health") or {}).get("status") or "Unknown")


def health_message(app: dict[str, Any]) -> str:
    """The app's health message (why it is not Healthy), or ""."""
    return str((_status(app).get("health") or {}).get("message") or "")


def operation(app: dict[str, Any]) -> dict[str, Any]:
    return dict(_status(app).get("operationState") or {})


def destination(app: dict[str, Any]) -> tuple[str, str]:
    dest = _spec(app).get("destination") or {}
    return str(dest.get("server") or dest.get("name") or ""), str(dest.get("namespace") or "")


def sync_policy(app: dict[str, Any]) -> str:
    automated = (_spec(app).get("syncPolicy") or {}).get("automated")
    if automated is None:
        return "Manual"
    extras = [
        k for k, flag in (("Prune", "prune"), ("SelfHeal", "selfHeal")) if automated.get(flag)
    ]
    return "Automated" + (f" ({', '.join(extras)})" if extras else "")


def conditions(app: dict[str, Any]) -> str:
    kinds = [str(c.get("type")) for c in _status(app).get("conditions") or []]
    return ",".join(kinds) if kinds else "<none>"


def list_rows(apps: list[dict[str, Any]], *, wide: bool) -> tuple[list[str], list[list[str]]]:
    columns = ["NAME", "CLUSTER", "NAMESPACE", "PROJECT", "STATUS", "HEALTH", "SYNCPOLICY"]
    columns += ["CONDITIONS", "REPO", "PATH", "TARGET"]
    if wide:
        columns += ["REVISION", "URL"]
    rows = []
    for app in apps:
        source = _spec(app).get("source") or {}
        server, namespace = destination(app)
        row = [
            name(app),
            server,
            namespace,
            str(_spec(app).get("project") or "default"),
            sync_status(app),
            health_status(app),
            sync_policy(app).split(" ")[0],
            conditions(app),
            str(source.get("repoURL", "")),
            str(source.get("path", "")),
            str(source.get("targetRevision") or "HEAD"),
        ]
        if wide:
            revision = str((_status(app).get("sync") or {}).get("revision") or "")
            urls = (_status(app).get("summary") or {}).get("externalURLs") or []
            row += [revision[:12], ",".join(urls)]
        rows.append(row)
    return columns, rows


def summary(app: dict[str, Any]) -> list[tuple[str, Any]]:
    """The ``app get`` header block."""
    spec, status = _spec(app), _status(app)
    source = spec.get("source") or {}
    server, namespace = destination(app)
    meta = app.get("metadata") or {}
    revision = str((status.get("sync") or {}).get("revision") or "")
    target = str(source.get("targetRevision") or "HEAD")
    urls = (status.get("summary") or {}).get("externalURLs") or []
    health = status.get("health") or {}
    health_text = health_status(app)
    if health.get("message"):
        health_text += f" ({health['message']})"
    pairs: list[tuple[str, Any]] = [
        ("Name", f"{meta.get('namespace') or 'argocd'}/{name(app)}"),
        ("Project", spec.get("project") or "default"),
        ("Server", server),
        ("Namespace", namespace),
        ("URL", urls[0] if urls else ""),
    ]
    pairs += [("", url) for url in urls[1:]]
    pairs += [
        ("Repo", source.get("repoURL", "")),
        ("Target", target),
        ("Path", source.get("path", "")),
        ("Sync Policy", sync_policy(app)),
        (
            "Sync Status",
            f"{sync_status(app)} to {target}" + (f" ({revision[:7]})" if revision else ""),
        ),
        ("Health Status", health_text),
    ]
    return pairs


def operation_summary(app: dict[str, Any]) -> list[tuple[str, Any]]:
    op = operation(app)
    if not op:
        return []
    result = op.get("syncResult") or {}
    revision = result.get("revision") or (op.get("operation") or {}).get("sync", {}).get("revision")
    return [
        ("Operation", "Sync"),
        ("Sync Revision", revision or ""),
        ("Phase", op.get("phase", "")),
        ("Start", op.get("startedAt", "")),
        ("Finished", op.get("finishedAt", "")),
        ("Message", op.get("message", "")),
    ]


def condition_rows(app: dict[str, Any]) -> list[list[str]]:
    return [
        [str(c.get("type", "")), str(c.get("message", "")), str(c.get("lastTransitionTime", ""))]
        for c in _status(app).get("conditions") or []
    ]


def _key(item: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(item.get("group") or ""),
        str(item.get("kind") or ""),
        str(item.get("namespace") or ""),
        str(item.get("name") or ""),
    )


def resource_rows(app: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """GROUP KIND NAMESPACE NAME STATUS HEALTH HOOK MESSAGE, as ``argocd app get`` shows."""
    results = {_key(r): r for r in (operation(app).get("syncResult") or {}).get("resources") or []}
    rows = []
    for res in _status(app).get("resources") or []:
        result = results.get(_key(res), {})
        health = (res.get("health") or {}).get("status", "")
        message = str(result.get("message", ""))
        if health not in ("", "Healthy") and (res.get("health") or {}).get("message"):
            message = str(res["health"]["message"])  # why it is not running says more
        rows.append([
            *_key(res), str(res.get("status", "")), str(health),
            str(result.get("hookType", "")), message,
        ])  # fmt: skip
    for key, result in results.items():
        if result.get("hookType"):
            rows.append([
                *key, str(result.get("status", "")), "", str(result.get("hookType", "")),
                str(result.get("message", "")),
            ])  # fmt: skip
    columns = ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "HOOK", "MESSAGE"]
    return columns, rows


def sync_result_rows(app: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """What the last operation did, per resource (``argocd app sync``'s table)."""
    rows = []
    for res in (operation(app).get("syncResult") or {}).get("resources") or []:
        rows.append([
            *_key(res), str(res.get("status", "")), str(res.get("hookPhase") or ""),
            str(res.get("message", "")),
        ])  # fmt: skip
    return ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HOOK PHASE", "MESSAGE"], rows


def tree_rows(app: dict[str, Any], nodes: list[dict[str, Any]]) -> list[list[str]]:
    """``app get -o tree``: each resource, then what it owns indented under it."""
    states = {_key(r): r for r in _status(app).get("resources") or []}
    by_uid = {n.get("uid"): n for n in nodes}
    children: dict[Any, list[dict[str, Any]]] = {}
    roots = []
    for node in nodes:
        parents = [p.get("uid") for p in node.get("parentRefs") or [] if p.get("uid") in by_uid]
        if parents:
            children.setdefault(parents[0], []).append(node)
        else:
            roots.append(node)
    rows: list[list[str]] = []

    def walk(node: dict[str, Any], indent: str, branch: str, last: bool) -> None:
        state = states.get(_key(node), {})
        health = node.get("health") or {}
        rows.append([
            f"{indent}{branch}{node.get('kind')}/{node.get('name')}",
            str(state.get("status", "")), str(health.get("status") or ""),
            str(health.get("message") or ""),
        ])  # fmt: skip
        inner = indent + ("" if not branch else "  " if last else "│ ")
        kids = children.get(node.get("uid"), [])
        for i, child in enumerate(kids):
            end = i == len(kids) - 1
            walk(child, inner, "└─" if end else "├─", end)

    for root in roots:
        walk(root, "", "", True)
    return rows


def print_app(app: dict[str, Any], *, show_operation: bool = True) -> None:
    """``app get``'s table output (the operation block too, unless it is left out)."""
    output.fields(summary(app))
    if cond := condition_rows(app):
        typer.echo()
        output.print_table(["CONDITION", "MESSAGE", "LAST TRANSITION"], cond)
    if show_operation and (op := operation_summary(app)):
        typer.echo()
        output.fields(op)
    columns, rows = resource_rows(app)
    typer.echo()
    output.print_table(columns, rows)
