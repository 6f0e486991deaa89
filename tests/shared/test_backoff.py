"""One exponential backoff: sync retries, kubelet restarts and Job pods agree on it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conveyor.backoff import Backoff, exponential_delay
from conveyor.model.syncpolicy import Backoff as RetryBackoff
from conveyor.model.syncpolicy import Retry


def test_doubling_up_to_the_cap() -> None:
    assert [exponential_delay(n, 5, 180) for n in range(7)] == [5, 10, 20, 40, 80, 160, 180]
    assert exponential_delay(-3, 5, 180) == 5  # a negative attempt is the first one
    assert exponential_delay(2, 1, 100, factor=3) == 9


@pytest.mark.parametrize("attempt", [64, 10_000, 2**62])
def test_huge_attempts_and_factors_stay_at_the_cap(attempt: int) -> None:
    assert exponential_delay(attempt, 5, 180) == 180
    assert exponential_delay(attempt, 5, 180, factor=10**6) == 180


def test_argo_cd_sync_retry_defaults_5s_doubling_to_3m() -> None:
    delays = [Retry(limit=10).delay(n) for n in range(8)]
    assert delays[:3] == [timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=20)]
    assert delays[-1] == timedelta(minutes=3)
    # a factor so large it overflowed a float before now waits the maximum
    big = RetryBackoff.model_validate({"duration": "1s", "factor": 10**6, "maxDuration": "2m"})
    assert big.delay(60) == timedelta(minutes=2)


def test_sync_retry_delays_follow_the_shared_backoff() -> None:
    # the engine reads them from the model (engine.operations.retry_delay): one computation
    model = Retry.model_validate(
        {"limit": 5, "backoff": {"duration": "2s", "factor": 3, "maxDuration": "100s"}}
    )
    delays = [model.delay(retry).total_seconds() for retry in range(7)]
    assert delays == [exponential_delay(n, 2, 100, factor=3) for n in range(7)]
    assert delays == [2, 6, 18, 54, 100, 100, 100]


def test_kubelet_restarts_at_once_then_doubles_and_resets_after_a_good_run() -> None:
    crash = Backoff(10, 300, reset_after=600)
    assert [crash.next_delay(1) for _ in range(7)] == [0, 10, 20, 40, 80, 160, 300]
    assert crash.next_delay(ran_for=600) == 0
    pull = Backoff(5, 300, immediate_first=False)
    assert [pull.next_delay() for _ in range(3)] == [5, 10, 20]
