"""Roles of API tokens, written as Argo CD's RBAC policy CSV and enforced on every route.

Argo CD grants permissions with lines ``p, <role>, <resource>, <action>, <object>, allow|deny``
(and ``g, <role>, <inherited role>``); ``*`` and globs match, a ``deny`` wins over any
``allow``. Conveyor keeps that form. Each token acts as one role:

- ``role:admin``: everything (the token in CONVEYOR_HOME, and tokens made with ``--role admin``);
- ``role:readonly``: ``get`` on every resource, Argo CD's built-in read-only role;
- a role of the token's own, from ``--project`` (applications and logs of those projects) or a
  policy the admin writes (``--policy``), which may inherit ``role:readonly``.

Objects are ``<project>/<app>`` for applications and logs, ``<project>`` for projects.
Creating or revoking tokens and changing projects are the admin's alone, whatever a policy
says: a token that could mint tokens or widen its own project could grant itself anything.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from io import StringIO

from conveyor.errors import ValidationError
from conveyor.model.globs import glob_match

ADMIN = "role:admin"
READONLY = "role:readonly"

_NAMES = (
    "applications logs projects accounts artifacts deployments promotions ci notifications audit *"
)
RESOURCES = frozenset(_NAMES.split())
ACTIONS = frozenset({"get", "create", "update", "delete", "sync", "override", "action", "*"})

BUILTIN = {
    ADMIN: f"p, {ADMIN}, *, *, *, allow",
    READONLY: f"p, {READONLY}, *, get, *, allow",
}
"""The built-in roles, as Argo CD's builtin-policy.csv writes them."""

MAX_POLICY = 64 * 1024


@dataclass(frozen=True)
class Rule:
    """One ``p`` line."""

    role: str
    resource: str
    action: str
    object: str
    allow: bool

    def matches(self, resource: str, action: str, obj: str) -> bool:
        return (
            glob_match(self.resource, resource)
            and glob_match(self.action, action)
            and glob_match(self.object, obj)
        )


@dataclass(frozen=True)
class Policy:
    """What one role may do: its rules, with inherited roles' rules folded in."""

    role: str
    rules: tuple[Rule, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def allows(self, resource: str, action: str, obj: str) -> bool:
        """Allowed by some rule and denied by none (a deny wins, as in Argo CD)."""
        hits = [rule for rule in self.rules if rule.matches(resource, action, obj)]
        return any(rule.allow for rule in hits) and not any(not rule.allow for rule in hits)

    def may_list(self, resource: str) -> bool:
        """Whether some object of ``resource`` may be read (a list is then filtered)."""
        return any(
            rule.allow and glob_match(rule.resource, resource) and glob_match(rule.action, "get")
            for rule in self.rules
        )


def parse_policy(role: str, text: str) -> Policy:
    """The policy of ``role`` from CSV ``text``; ValidationError naming the line otherwise.

    Every ``p`` line must be about ``role``; ``g, <role>, role:readonly`` inherits the
    read-only role (inheriting ``role:admin`` is refused: make an admin token instead).
    """
    if role in BUILTIN:
        return _parse(role, BUILTIN[role], builtin=True)
    return _parse(role, text, builtin=False)


def _parse(role: str, text: str, *, builtin: bool) -> Policy:
    if len(text) > MAX_POLICY:
        raise ValidationError(f"the policy is longer than {MAX_POLICY} characters", obj="policy")
    rules: list[Rule] = []
    for number, row in enumerate(csv.reader(StringIO(text), skipinitialspace=True), 1):
        fields = [f.strip() for f in row]
        if not fields or not fields[0] or fields[0].startswith("#"):
            continue
        where = f"policy line {number}"
        if fields[0] == "g" and len(fields) == 3 and not builtin:
            if fields[1] != role:
                raise ValidationError(f"{where}: 'g' must name {role}, not {fields[1]}")
            if fields[2] != READONLY:
                raise ValidationError(
                    f"{where}: only {READONLY} can be inherited (for admin, make an admin token)"
                )
            rules += parse_policy(READONLY, "").rules
            continue
        if fields[0] != "p" or len(fields) not in (5, 6):
            raise ValidationError(
                f"{where}: expected 'p, {role}, RESOURCE, ACTION, OBJECT, allow|deny'"
                f" or 'g, {role}, {READONLY}'"
            )
        _, subject, resource, action, obj, *effect = fields
        effect_word = effect[0] if effect else "allow"
        if subject != role:
            raise ValidationError(f"{where}: the rule is for {subject}, not this token's {role}")
        if resource not in RESOURCES:
            raise ValidationError(
                f"{where}: unknown resource {resource!r}; one of {', '.join(sorted(RESOURCES))}"
            )
        if action not in ACTIONS and not action.startswith("action/"):
            raise ValidationError(
                f"{where}: unknown action {action!r}; one of {', '.join(sorted(ACTIONS))}"
            )
        if effect_word not in ("allow", "deny"):
            raise ValidationError(f"{where}: the effect must be allow or deny, not {effect_word!r}")
        rules.append(Rule(subject, resource, action, obj, effect_word == "allow"))
    return Policy(role, tuple(_as_role(rule, role) for rule in rules))


def _as_role(rule: Rule, role: str) -> Rule:
    return Rule(role, rule.resource, rule.action, rule.object, rule.allow)


def project_policy(role: str, projects: list[str]) -> str:
    """The CSV of a role limited to ``projects``: their apps (every action), logs, the projects."""
    lines = []
    for project in projects:
        lines += [
            f"p, {role}, applications, *, {project}/*, allow",
            f"p, {role}, logs, get, {project}/*, allow",
            f"p, {role}, projects, get, {project}, allow",
        ]
    return "\n".join(lines)
