"""argocd's ``--resource`` filters: ``[!]GROUP:KIND:[NAMESPACE/]NAME``, resolved on the app.

As ``argocd app sync`` does, the filters are matched against the app's resources
(``status.resources``) and the matches are what the sync request names: a field may be ``*``
(anything), an empty namespace matches any, a filter starting with ``!`` excludes (and wins
over an include), and with only excludes everything else is included. Filters that match
nothing are an error with argocd's message, instead of a sync that does nothing and succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.cli.client import CliError


@dataclass(frozen=True)
class ResourceFilter:
    """One ``--resource`` value."""

    group: str
    kind: str
    namespace: str
    name: str
    exclude: bool = False

    def matches(self, res: dict[str, Any]) -> bool:
        def field(mine: str, theirs: Any) -> bool:
            return mine == "*" or mine == str(theirs or "")

        return (
            field(self.group, res.get("group"))
            and field(self.kind, res.get("kind"))
            and field(self.name, res.get("name"))
            and (not self.namespace or field(self.namespace, res.get("namespace")))
        )


def parse(spec: str) -> ResourceFilter:
    """``GROUP:KIND:NAME`` or ``GROUP:KIND:NAMESPACE/NAME``, optionally prefixed by ``!``."""
    exclude = spec.startswith("!")
    parts = spec.removeprefix("!").split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise CliError(
            f"--resource {spec!r}: expected GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME "
            "(a leading ! excludes)"
        )
    namespace, _, name = parts[2].rpartition("/")
    if not name:
        raise CliError(f"--resource {spec!r}: the name is empty")
    return ResourceFilter(parts[0], parts[1], namespace, name, exclude)


def included(res: dict[str, Any], filters: list[ResourceFilter]) -> bool:
    """argocd's IncludeResource: any include matches (or there is none), and no exclude."""
    includes = [f for f in filters if not f.exclude]
    if includes and not any(f.matches(res) for f in includes):
        return False
    return not any(f.matches(res) for f in filters if f.exclude)


def select(app: dict[str, Any], specs: list[str]) -> list[dict[str, str]]:
    """The app's resources the ``--resource`` values pick, as sync request entries."""
    filters = [parse(s) for s in specs]
    chosen = [
        {
            "group": str(r.get("group") or ""),
            "kind": str(r.get("kind") or ""),
            "namespace": str(r.get("namespace") or ""),
            "name": str(r.get("name") or ""),
        }
        for r in (app.get("status") or {}).get("resources") or []
        if included(r, filters)
    ]
    if not chosen:
        raise CliError(f"No matching app resources found for resource filter: {', '.join(specs)}")
    return chosen
