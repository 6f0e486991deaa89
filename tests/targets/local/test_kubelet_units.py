"""The kubelet's pure pieces: $(VAR) expansion, env resolution, quantities, backoff, phases,
probe thresholds, host ports, log rotation and limit plans."""

from __future__ import annotations

import stat
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_kubelet_support import Lookup, make_pod

from conveyor.errors import ValidationError
from conveyor.targets.local.kubelet import (
    EnvConfigError,
    cpu_millis,
    expand,
    memory_bytes,
    parse_quantity,
)
from conveyor.targets.local.kubelet.backoff import Backoff, format_duration
from conveyor.targets.local.kubelet.env import NodeCapacity, resolve_env
from conveyor.targets.local.kubelet.hostports import ContainerPorts, HostPortBook
from conveyor.targets.local.kubelet.limits import plan_limits
from conveyor.targets.local.kubelet.logs import ContainerLog, read_lines
from conveyor.targets.local.kubelet.probes import ProbeCounter, ProbeSpec, UnsupportedProbe
from conveyor.targets.local.kubelet.status import (
    ContainerStatus,
    Running,
    Terminated,
    Waiting,
    compute_phase,
)

NODE = NodeCapacity(cpu_millis=4000, memory_bytes=8 * 2**30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)-$(B)", "1-two"),
        ("$$(A)", "$(A)"),
        ("$(MISSING)", "$(MISSING)"),
        ("$(A", "$(A"),
        ("cost: $5 $", "cost: $5 $"),
        ("$$$(A)", "$1"),
    ],
    ids=["refs", "escaped", "undefined", "unclosed", "lone-dollar", "escape-then-ref"],
)
def test_expand_follows_kubernetes_rules(text: str, expected: str) -> None:
    assert expand(text, {"A": "1", "B": "two"}) == expected


def _env(container: dict[str, Any], lookup: Lookup | None = None) -> dict[str, str]:
    pod = make_pod("p", [container])
    return resolve_env(
        container, pod, lookup or Lookup(), base={"PATH": "/bin"}, runtime={"PORT": "5"}, node=NODE
    )


def test_env_order_later_wins_and_values_see_earlier_ones() -> None:
    lookup = Lookup()
    lookup.add_config_map("cm", {"A": "from-cm", "B": "b", "bad=key": "x"})
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}}],
        "env": [
            {"name": "A", "value": "from-env"},
            {"name": "C", "value": "$(A)/$(B)/$(PORT)/$(D)"},
            {"name": "D", "value": "later"},
            {"name": "PORT", "value": "1"},
        ],
    }
    env = _env(container, lookup)
    assert env["A"] == "from-env"
    assert env["C"] == "from-env/b/5/$(D)"
    assert env["PORT"] == "5"
    assert "bad=key" not in env


def test_env_problems_are_all_named_without_values() -> None:
    lookup = Lookup()
    lookup.add_secret("s", {"k": "v4lue"})
    container = {
        "name": "c",
        "env": [
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "nope"}}},
            {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
            {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}},
            {
                "name": "D",
                "valueFrom": {"secretKeyRef": {"name": "s", "key": "x", "optional": True}},
            },
        ],
    }
    with pytest.raises(EnvConfigError) as caught:
        _env(container, lookup)
    assert caught.value.problems == [
        "couldn't find key nope in Secret default/s",
        'configmap "cm" not found',
        'unsupported fieldPath "spec.bogus"',
    ]
    assert "v4lue" not in caught.value.message


def test_resource_field_ref_reads_limits_or_the_node() -> None:
    container = {
        "name": "c",
        "resources": {"limits": {"memory": "128Mi"}},
        "env": [
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                "divisor": "1Mi"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        ],
    }  # fmt: skip
    env = _env(container)
    assert (env["MEM"], env["CPU"]) == ("128", "4")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("128Mi", Decimal(128 * 2**20)), ("1G", Decimal(10**9)), ("500m", Decimal("0.5")),
     ("1e3", Decimal(1000)), (2, Decimal(2)), ("0.1", Decimal("0.1"))],
    ids=["binary", "decimal", "milli", "exponent", "int", "fraction"],
)  # fmt: skip
def test_quantities_parse_exactly(value: str | int, expected: Decimal) -> None:
    assert parse_quantity(value) == expected


def test_quantity_helpers_round_up_and_reject_garbage() -> None:
    assert cpu_millis("0.1") == 100
    assert cpu_millis("250m") == 250
    assert memory_bytes("1.5Ki") == 1536
    with pytest.raises(ValidationError, match="is not valid"):
        parse_quantity("12 apples")


def test_backoff_is_immediate_then_doubles_to_its_cap_and_resets_after_a_long_run() -> None:
    backoff = Backoff(10, 300, reset_after=600)
    delays = [backoff.next_delay(1) for _ in range(8)]
    assert delays == [0, 10, 20, 40, 80, 160, 300, 300]
    assert backoff.next_delay(ran_for=601) == 0
    pull = Backoff(10, 300, immediate_first=False)
    assert [pull.next_delay() for _ in range(3)] == [10, 20, 40]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "200ms"), (10, "10s"), (80, "1m20s"), (300, "5m0s"), (0, "0s")],
)
def test_durations_print_as_go_does(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def _status(state: Any, last: Terminated | None = None) -> ContainerStatus:
    return ContainerStatus("c", "i", state=state, last_state=last)


DONE = Terminated(0, "Completed", "t", "t")
FAILED = Terminated(1, "Error", "t", "t")


@pytest.mark.parametrize(
    ("policy", "states", "phase"),
    [
        ("Always", [_status(Waiting("ContainerCreating"))], "Pending"),
        ("Always", [_status(Running("t")), _status(Waiting("ContainerCreating"))], "Pending"),
        ("Always", [_status(Waiting("CrashLoopBackOff"), FAILED)], "Running"),
        ("Never", [_status(DONE), _status(DONE)], "Succeeded"),
        ("Never", [_status(DONE), _status(FAILED)], "Failed"),
        ("OnFailure", [_status(Waiting("CrashLoopBackOff"), FAILED)], "Running"),
        ("Never", [_status(Running("t")), _status(DONE)], "Running"),
    ],
    ids=["creating", "one-waiting", "crash-loop", "all-done", "one-failed", "on-failure",
         "one-running"],
)  # fmt: skip
def test_phase_follows_the_kubelet(policy: str, states: list[ContainerStatus], phase: str) -> None:
    assert compute_phase(policy, states) == phase


def test_probe_defaults_and_thresholds() -> None:
    spec = ProbeSpec.parse("Liveness", {"tcpSocket": {"port": 1}, "failureThreshold": 2})
    assert spec is not None
    assert (spec.period, spec.timeout, spec.success_threshold) == (10.0, 1.0, 1)
    counter = ProbeCounter(spec, initial=True)
    assert [counter.record(ok) for ok in (False, True, False, False, True)] == [
        None,
        None,
        None,
        False,
        True,
    ]
    assert ProbeSpec.parse("Readiness", None) is None
    with pytest.raises(UnsupportedProbe, match="grpc"):
        ProbeSpec.parse("Readiness", {"grpc": {"port": 1}})


@pytest.mark.processes
def test_container_ports_remap_declared_ports_and_never_repeat() -> None:
    book = HostPortBook()
    declared = [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090}]
    a = ContainerPorts.allocate(book, declared)
    b = ContainerPorts.allocate(book, declared)
    assert a.lookup(8080) == a.lookup("http") == a.primary
    assert a.lookup(9090) not in (None, a.primary)
    assert a.resolve(1234) == a.primary and a.lookup(1234) is None
    assert a.all().isdisjoint(b.all())
    assert a.env() == {"PORT": str(a.primary), "PORT_8080": str(a.primary),
                       "PORT_9090": str(a.lookup(9090))}  # fmt: skip


def test_pod_logs_are_readable_by_their_user_only(tmp_path: Path) -> None:
    """A Pod's output may print its Secret values; other users of the machine must not read it."""
    log = ContainerLog(tmp_path / "pod", "c", max_bytes=100, backups=2)
    log.new_instance()
    for i in range(20):
        log.write(f"line {i:02d} of the log\n".encode())
    log.close()
    assert stat.S_IMODE((tmp_path / "pod").stat().st_mode) & 0o077 == 0
    files = log.current_files()
    assert len(files) > 1  # rotated files too
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_log_rotation_keeps_whole_lines_within_the_bound(tmp_path: Path) -> None:
    log = ContainerLog(tmp_path, "c", max_bytes=100, backups=2)
    log.new_instance()
    for i in range(50):
        log.write(f"line {i:02d} of the log\n".encode())  # 19 bytes
    log.write(b"y" * 250 + b"\n")  # longer than a file: split
    log.write(b"end\n")
    log.close()
    files = log.current_files()
    assert len(files) == 3
    assert all(f.stat().st_size <= 100 for f in files)
    assert read_lines(files)[-1] == "end"
    assert read_lines(files, tail=2) == ["y" * 250, "end"]

    log.new_instance()
    log.write(b"second\n")
    log.close()
    assert read_lines(log.previous_files())[-1] == "end"
    assert read_lines(log.current_files()) == ["second"]


def test_limits_plan_says_what_is_enforced() -> None:
    assert plan_limits(None, owner="x") is None
    assert plan_limits({"requests": {"memory": "1Gi"}}, owner="x") is None
    plan = plan_limits({"limits": {"memory": "64Mi", "cpu": "500m"}}, owner="x")
    assert plan is not None
    if plan.cgroup is not None:
        assert plan.enforced and "cgroup v2" in plan.message
    elif sys.platform.startswith("linux"):
        assert plan.rlimit_data == 64 * 2**20
        assert "cpu limit 500m not enforced" in plan.message
        assert not plan.enforced
    with pytest.raises(ValidationError):
        plan_limits({"limits": {"memory": "lots"}}, owner="x")
    with pytest.raises(ValidationError, match="positive"):
        plan_limits({"limits": {"cpu": "0"}}, owner="x")
