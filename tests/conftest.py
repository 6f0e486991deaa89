"""Shared test setup: an isolated CONVEYOR_HOME per test, git identity for test repos, pip
without a package index, and the `processes` mark that `make check` leaves out."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conveyor.logging import configure
from support.wheelhouse import OFFLINE_PIP

# The venv's bin first on PATH, as in an activated venv: `make test` puts the real helm there.
_VENV_BIN = str(Path(sys.executable).parent)
if _VENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_VENV_BIN, os.environ.get("PATH", "")])

# No test reaches a package index: pip (in artifact builds, in `conveyor demo`) installs only
# from the wheels `make test` downloaded. Set for the whole session, module fixtures included.
os.environ.update(OFFLINE_PIP)


@pytest.fixture(autouse=True)
def _logging() -> None:
    """The product's logging setup (plain tracebacks, masking) in every test: set again for
    each, since a CLI invoked in process (typer's CliRunner) points it at a stream it closes."""
    configure("INFO")


@pytest.fixture(autouse=True, scope="module")
def _module_logging() -> None:
    """The same before a module's own fixtures (a server started once per module logs at its
    start, possibly right after another module's last test closed the CliRunner's stream)."""
    configure("INFO")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own CONVEYOR_HOME; nothing touches the user's data dir."""
    home = tmp_path / "conveyor-home"
    monkeypatch.setenv("CONVEYOR_HOME", str(home))
    monkeypatch.delenv("CONVEYOR_DATABASE_URL", raising=False)
    # No Prometheus per runtime: the tests of the supervised one turn it on themselves.
    monkeypatch.setenv("CONVEYOR_PROMETHEUS", "off")
    for var, value in {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():
        monkeypatch.setenv(var, value)
    return home


# -- which tests start processes ------------------------------------------------------------
#
# `make check` runs every test that starts no process and binds no port (`-m "not processes"`),
# so that it stays fast; `make test` and CI run everything. A test is marked `processes` when
# its module is listed below (git, kustomize, helm, pip, servers, the runtime's kubelet), when
# it runs on the PostgreSQL store backend, or by `@pytest.mark.processes` on the test itself in
# a module that mixes both. While `make check` runs, an audit hook fails any unmarked test that
# starts a process or binds a socket anyway, so the marks cannot silently go stale.

PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.posix_spawn", "os.fork", "os.system", "socket.bind"}
)
_violations: dict[str, list[str]] = {}
_current: list[str] = []
_enforcing: list[bool] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event in PROCESS_EVENTS and _current and _enforcing:
        what = f"{event} {args[1] if event == 'subprocess.Popen' and len(args) > 1 else ''}"
        _violations.setdefault(_current[-1], []).append(what[:200])
        raise RuntimeError(
            f"this test starts a process or binds a port ({what[:120]}) but is not marked "
            "`processes`: add @pytest.mark.processes, or list its module in tests/conftest.py"
        )


def _checking(config: pytest.Config) -> bool:
    return "not processes" in (config.getoption("markexpr") or "")


def pytest_configure(config: pytest.Config) -> None:
    if _checking(config):
        _enforcing.append(True)
        sys.addaudithook(_audit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    _current.append(item.nodeid)  # fixtures of every scope included
    try:
        return (yield)
    finally:
        _current.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    result = yield
    if item.nodeid in _violations:  # the code under test swallowed the error: fail anyway
        pytest.fail(f"started a process or bound a port: {_violations[item.nodeid]}")
    return result


PROCESS_MODULES = (
    "analysis/test_web_provider.py",  # a real HTTP server
    "analysis/test_prometheus_provider.py",  # the real Prometheus
    "analysis/test_job_provider.py",  # real Jobs on the runtime
    "api/",  # a live server (uvicorn in a thread), git repos, the runtime
    "artifacts/test_artifact_store.py",  # git and pip
    "ci/",  # the real scanners on git repos, pip, OSV fixtures on 127.0.0.1
    "cli/test_cli_analysis.py",  # the CLI as a process, Prometheus
    "cli/test_cli_clusters.py",  # servers, a Kubernetes API server (kmock)
    "cli/test_cli_multicluster.py",  # a server, two Kubernetes API servers (kmock)
    "cli/test_cli_deployments.py",
    "cli/test_cli_audit_dora.py",
    "cli/test_cli_e2e.py",
    "cli/test_demo.py",
    "cli/test_demo_release.py",
    "deploy/",  # the real kubectl kustomize
    "engine/test_admission.py",  # the local runtime with its kubelet
    "engine/test_controller_regressions.py",  # git repos
    "engine/test_app_of_apps.py",  # git repos
    "engine/test_fleet.py",  # git repos
    "engine/test_engine_e2e.py",
    "engine/test_engine_e2e_kubernetes.py",  # git repos, a Kubernetes API server (kmock)
    "engine/test_example_repos.py",
    "engine/test_real_repos.py",
    "engine/test_hardening.py",  # git repos
    "engine/test_sync_options_app.py",  # git repos
    "examples/test_config_repo.py",  # kustomize
    "examples/test_demo_e2e.py",
    "notify/test_delivery.py",  # a local HTTP receiver on 127.0.0.1
    "render/test_kustomize_rollout.py",  # kubectl kustomize
    "source/test_cache_fetch.py",  # git
    "source/test_commit_log.py",
    "source/test_git.py",
    "source/test_sha256_repos.py",
    "shared/test_gitrun.py",  # git against a silent TCP server
    "source/test_read_tree.py",
    "targets/kubernetes/",  # a Kubernetes API server (kmock) on 127.0.0.1
    "targets/local/test_kind_identity.py",  # the kubelet
    "targets/local/test_kubelet_limits.py",
    "targets/local/test_kubelet_logs.py",
    "targets/local/test_kubelet_probes.py",
    "targets/local/test_kubelet_restarts.py",
    "targets/local/test_kubelet_running.py",
    "targets/local/test_kubelet_waiting.py",
    "targets/local/test_local_runtime_e2e.py",
    "targets/local/test_proxy.py",  # listeners on 127.0.0.1
    "targets/local/test_proxy_framing.py",
    "targets/local/test_proxy_weights.py",
    "ui/test_ui_browser",  # a live server, the runtime, Chromium (test_ui_browser*.py)
)
"""Test modules whose every test starts a process or binds a port (paths under tests/)."""

_TESTS = Path(__file__).parent


def _starts_processes(item: pytest.Item) -> bool:
    if item.get_closest_marker("slow") is not None:
        return True
    where = item.path.relative_to(_TESTS).as_posix()
    if where.startswith(PROCESS_MODULES):
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    return bool(params.get("backend") == "postgresql")  # the store tests' PostgreSQL server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _starts_processes(item):
            item.add_marker(pytest.mark.processes)
