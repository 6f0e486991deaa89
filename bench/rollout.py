"""Benchmark of a canary release of the demo's prod on the local runtime (issue 11, Figures).

Starts ``conveyor demo`` (a temporary CONVEYOR_HOME, no Prometheus: the builtin-provider
analysis) and drives it with ``conveyor demo release``'s own code, with its bounded load
generator (20 requests/s to the prod Service on 127.0.0.1), then prints:

  - a good release with the shortened pauses: push -> 100 % of traffic on the new version,
    and push -> the old ReplicaSet scaled down (after Argo's 30 s scaleDownDelaySeconds);
  - ``--bad`` (ERROR_RATE=0.3 pushed): push -> aborted; push -> the last request served by
    the canary (from then on 100 % stable); requests served by the bad version after the
    abort was seen; the share of user requests that failed against the largest canary
    weight x the error rate;
  - from a failed measurement to 100 % of requests on stable, over ``--runs`` bad pushes
    (between two, ERROR_RATE=0.0 is pushed back, which returns prod to its stable template
    at once; each bad push spells 0.3 differently, 0.30, 0.300, so each has a new
    ReplicaSet): the time from the watch first showing the AnalysisRun Failed to the last
    request the canary answered (negative when traffic had already moved when the stream
    delivered the change). p50 / p99 / max.

    .venv/bin/python bench/rollout.py [--runs 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONVEYOR = str(Path(sys.executable).with_name("conveyor"))
ERROR_RATE = 0.3


def machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def start_demo(home: Path) -> subprocess.Popen[str]:
    demo = subprocess.Popen(
        [CONVEYOR, "demo", "--port", "0"],
        env={**os.environ, "CONVEYOR_HOME": str(home), "CONVEYOR_PROMETHEUS": "off"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    for line in demo.stdout:
        if "serving until interrupted" in line:
            return demo
    raise SystemExit("conveyor demo did not start")


def quiet(_: str) -> None:
    pass


def last_canary_answer(load: Any, canary: str) -> float | None:
    times = [a.at for a in load.snapshot() if a.replicaset == canary]
    return max(times) if times else None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def reset(rel: Any, home: Path) -> None:
    """Push ERROR_RATE=0.0 back (prod's stable template again) and wait until Healthy."""
    from conveyor.api.rollout_info import finished
    from conveyor.cli.client import Client
    from conveyor.cli.demo_setup import git

    repo = home / "demo" / "config-repo"
    if rel._edit(repo / "overlays" / "prod" / "kustomization.yaml", rel._ERROR_RATE, "0.0"):
        git(repo, "commit", "-q", "-am", "demo-prod: ERROR_RATE=0.0 (bench reset)")
    with Client() as client:
        rel._sync(client)
        rel._stream(client, lambda info: finished(info) is True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="aborts for the failed->stable p99")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {"machine": machine(), "runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-rollout-") as tmp:
        home = Path(tmp) / "home"
        os.environ["CONVEYOR_HOME"] = str(home)
        os.environ["CONVEYOR_PROMETHEUS"] = "off"
        from conveyor.cli import demo_release as rel

        demo = start_demo(home)
        try:
            say = print if not args.json else quiet
            good, _ = rel.release(bad=False, analysis="builtin", timeout=400, rate=20, say=say)
            figures["good"] = {
                "verdict": good.verdict,
                "push_to_100_percent_s": good.promoted_after,
                "push_to_old_scaled_down_s": good.ended_after,
            }
            samples: list[float] = []
            bad_runs: list[dict[str, Any]] = []
            for run in range(args.runs):
                if run > 0:
                    reset(rel, home)
                # 0.3, 0.30, 0.300...: the same rate, a new ConfigMap, so a new ReplicaSet
                # each time (a reused one would carry the last run's requests in its stats).
                outcome, load = rel.release(
                    bad=True,
                    analysis="builtin",
                    timeout=400,
                    rate=20,
                    say=say,
                    error_rate="0.3" + "0" * run,
                )
                last = last_canary_answer(load, outcome.canary)
                after_abort = load.tallies(outcome.pushed_at + (outcome.aborted_at or 0))
                everything = load.tallies(outcome.pushed_at).values()
                failed = sum(t.failed for t in everything)
                total = sum(t.total for t in everything)
                record = {
                    "verdict": outcome.verdict,
                    "to_abort_s": outcome.aborted_at,
                    "to_all_stable_s": None if last is None else last - outcome.pushed_at,
                    "canary_requests_after_abort": (
                        after_abort[outcome.canary].total if outcome.canary in after_abort else 0
                    ),
                    "failed_share": failed / total if total else None,
                    "bound_weight_x_error_rate": outcome.max_weight / 100 * ERROR_RATE,
                    "max_canary_weight": outcome.max_weight,
                }
                if outcome.failed_seen_at is not None and last is not None:
                    record["failed_to_stable_s"] = last - outcome.failed_seen_at
                    samples.append(last - outcome.failed_seen_at)
                bad_runs.append(record)
                if not args.json:
                    print(json.dumps(record))
            figures["bad"] = bad_runs
            if samples:
                figures["failed_measurement_to_stable_s"] = {
                    "n": len(samples),
                    "p50": statistics.median(samples),
                    "p99": pct(samples, 0.99),
                    "max": max(samples),
                }
        finally:
            demo.send_signal(signal.SIGINT)
            demo.wait(timeout=120)
    figures["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
