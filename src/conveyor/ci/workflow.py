"""``conveyor ci workflow github``: the same stages as a GitHub Actions workflow.

Each stage is one step running the tool ``conveyor ci run`` runs, with the same gates (the
coverage figure and the SAST severity come from the repository's pipeline file, defaults
otherwise), so a team can keep its checks on GitHub and still see the same results locally.
The output validates against the published workflow schema (a test checks it).
"""

from __future__ import annotations

from typing import Any

import yaml

from conveyor.ci.config import CONFIG, PipelineConfig
from conveyor.errors import ValidationError

PYTHON = "3.12"


def github_workflow(config: PipelineConfig | None = None) -> str:
    """The workflow as YAML text."""
    config = config or PipelineConfig()
    if config.kind == CONFIG:
        raise ValidationError(
            "this is a config repository's pipeline (kind: config): its preview and policy "
            "stages have no GitHub workflow form yet; run `conveyor ci run` in the workflow"
        )
    steps: list[dict[str, Any]] = [
        {"uses": "actions/checkout@v4", "with": {"fetch-depth": 0}},
        {"uses": "actions/setup-python@v5", "with": {"python-version": PYTHON}},
        {
            "name": "Install the scanners",
            "run": "python -m pip install detect-secrets ruff mypy pytest pytest-cov bandit "
            "pip-audit cyclonedx-bom\n"
            "if [ -f requirements.txt ]; then python -m pip install -r requirements.txt; fi",
        },
    ]
    stage_steps = {
        "secrets": (
            "Secret scan",
            "detect-secrets scan --all-files > secrets.json\n"
            "python -c \"import json,sys; r=json.load(open('secrets.json'))['results']; "
            "[print(f, i['line_number'], i['type']) for f in r for i in r[f]]; "
            'sys.exit(1 if r else 0)"',
        ),
        "lint": ("Lint", "ruff check --output-format concise ."),
        "types": ("Types", "mypy " + " ".join(config.types.paths)),
        "tests": (
            "Tests and coverage gate",
            f"python -m pytest -q --cov=. --cov-fail-under={config.tests.coverage:g}",
        ),
        "sast": ("SAST", f"bandit -r . -x ./.git,./.venv --severity-level {config.sast.severity}"),
        "audit": ("Dependency audit", "pip-audit -s osv --strict" + _requirements()),
        "sbom": ("SBOM", "cyclonedx-py environment --of JSON -o sbom.cdx.json"),
    }
    for name, (title, run) in stage_steps.items():
        if config.stage(name).enabled:
            step: dict[str, Any] = {"name": title, "run": run}
            if config.stage(name).on_finding == "warn":
                step["continue-on-error"] = True
            steps.append(step)
    steps.append(
        {
            "name": "Keep the SBOM",
            "uses": "actions/upload-artifact@v4",
            "with": {"name": "sbom-${{ github.sha }}", "path": "sbom.cdx.json"},
        }
    )
    workflow = {
        "name": "conveyor ci",
        "on": {"push": {"branches": ["main"]}, "pull_request": {}},
        "permissions": {"contents": "read"},
        "jobs": {"pipeline": {"runs-on": "ubuntu-latest", "steps": steps}},
    }
    return yaml.safe_dump(workflow, sort_keys=False, width=100)


def _requirements() -> str:
    return " $( [ -f requirements.txt ] && echo -r requirements.txt )"
