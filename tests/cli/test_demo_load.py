"""The demo release's load generator and template choice: bounded, loopback only."""

from __future__ import annotations

import pytest

from conveyor.cli.client import CliError
from conveyor.cli.demo_load import Answer, LoadGenerator, replicaset_of
from conveyor.cli.demo_release import choose_template


def test_a_pod_is_counted_for_the_replicaset_it_is_named_after() -> None:
    assert replicaset_of("demo-app-6c4b8d7f9e-x7k2p") == "demo-app-6c4b8d7f9e"


@pytest.mark.parametrize("url", ["http://example.com/", "http://10.0.0.1:80/", "http://[::2]/"])
def test_the_load_generator_refuses_anything_but_loopback(url: str) -> None:
    with pytest.raises(ValueError, match=r"only calls 127\.0\.0\.1"):
        LoadGenerator(url)


@pytest.mark.parametrize(
    "bounds", [{"rate": 0}, {"rate": 1000}, {"max_requests": 0}, {"max_seconds": 0}]
)
def test_the_load_is_bounded(bounds: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        LoadGenerator("http://127.0.0.1:1/", **bounds)  # type: ignore[arg-type]


def test_tallies_count_5xx_and_no_answer_as_failed_from_a_moment_on() -> None:
    load = LoadGenerator("http://127.0.0.1:1/")
    load.answers += [
        Answer(1.0, 200, "a"),
        Answer(2.0, 500, "b"),
        Answer(3.0, 200, "b"),
        Answer(4.0, 0, "?"),
    ]
    tallies = load.tallies()
    assert (tallies["a"].ok, tallies["b"].success_rate, tallies["?"].failed) == (1, 0.5, 1)
    assert set(load.tallies(since=2.5)) == {"b", "?"}


def test_the_builtin_twin_is_chosen_without_prometheus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_PROMETHEUS", "off")
    assert choose_template("auto") == "success-rate-builtin"
    assert choose_template("prometheus") == "success-rate"
    with pytest.raises(CliError):
        choose_template("datadog")
