"""Benchmark of the Service proxy alone: what a Service costs over a direct connection.

For each kind of upstream it runs 50 concurrent keep-alive connections, straight to one
upstream and through a ``ServiceProxy`` (HTTP mode) over that same upstream, twice:

  saturated  every connection sends its next request as soon as the last one is answered:
             the throughput each path reaches (target: the proxy at least half of direct).
             Latency here is mostly queueing (50 requests in flight share the CPUs), so the
             p99 it adds follows from the throughput lost, not from the hop itself;
  paced      a steady rate, ``--paced`` times the direct throughput, on the same
             connections: the p99 the proxy's hop adds to a request (target: under 2 ms).

Each figure is the median of ``--repeat`` interleaved runs; figures only, nothing here asserts
timing. Each piece runs in its own process, so none measures the others' event loop: the
upstream (``--serve``, a subprocess of this script), the load generator (``bench/loadgen.py``)
and the proxy (this process). Upstreams:

  threading  stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive: what examples/hello-app is
  asyncio    a small asyncio Protocol server: a fast app, so the proxy's own cost shows

    .venv/bin/python bench/service_proxy.py [--duration 3] [--repeat 3] [--upstream asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from conveyor.logging import configure  # noqa: E402
from conveyor.targets.local.network.endpoints import Endpoint  # noqa: E402
from conveyor.targets.local.network.proxy import ServiceProxy  # noqa: E402

BODY = json.dumps({"version": "v1", "pod": "bench-0"}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default 5 drops SYNs when 50 clients connect at once


class _Handler(BaseHTTPRequestHandler):
    """The hello-app's shape: JSON body with Content-Length, HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle on, each response waits for the
    # client's delayed ACK (~40 ms), and the bench would measure that instead
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


class _AsyncHandler(asyncio.Protocol):
    """A minimal keep-alive HTTP/1.1 server answering every bodiless request at once."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.response = (
            b"HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        count = buf.count(b"\r\n\r\n")
        if count and self.transport is not None:
            self.transport.write(self.response * count)
        self.buf = buf[buf.rfind(b"\r\n\r\n") + 4 :] if count else buf


def serve(kind: str, port: int) -> None:
    """Run one upstream in this process until killed."""
    if kind == "threading":
        _Server(("127.0.0.1", port), _Handler).serve_forever()
        return

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_AsyncHandler, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    asyncio.run(run())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


async def load(
    port: int | str, connections: int, duration: float, rps: float | None = None
) -> dict[str, Any]:
    """One run of bench/loadgen.py in its own process (``port``: one, or "p1,p2"); its JSON."""
    args = ["--host", "127.0.0.1", "--port", str(port)]
    args += ["--connections", str(connections), "--duration", str(duration)]
    if rps:
        args += ["--rps", str(rps)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "loadgen.py"), *args, stdout=subprocess.PIPE
    )
    out, _ = await proc.communicate()
    return dict(json.loads(out))


def row(label: str, result: dict[str, Any]) -> str:
    return (
        f"  {label:<30} {result['rps']:>8.0f} req/s   p50 {result['p50_ms']:6.2f} ms   "
        f"p99 {result['p99_ms']:6.2f} ms   errors {result['errors']}   non-2xx {result['non_2xx']}"
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs: one noisy run on a shared machine moves nothing."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


async def measure(kind: str, connections: int, duration: float, paced: float, repeat: int) -> None:
    port = free_port()
    upstream = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", kind, "--port", str(port)
    )
    proxy = ServiceProxy(name="bench/service_proxy", port=0, protocol="http")
    runs: dict[str, list[dict[str, Any]]] = {
        "direct": [],
        "via": [],
        "direct_paced": [],
        "via_paced": [],
    }
    try:
        await wait_listening(port)
        await proxy.start()
        proxy.set_endpoints([Endpoint("127.0.0.1", port, name="upstream")])
        await load(port, connections, 1.0)  # warm up: threads, pooled connections, caches
        await load(proxy.port, connections, 1.0)
        for _ in range(repeat):  # interleaved, so that a busy moment hits both paths alike
            runs["direct"].append(await load(port, connections, duration))
            runs["via"].append(await load(proxy.port, connections, duration))
        rate = round(median(runs["direct"])["rps"] * paced)
        for _ in range(repeat):
            runs["direct_paced"].append(await load(port, connections, duration, rate))
            runs["via_paced"].append(await load(proxy.port, connections, duration, rate))
    finally:
        await proxy.stop()
        upstream.terminate()
        await upstream.wait()
    direct, via, direct_paced, via_paced = (median(r) for r in runs.values())
    print(
        f"{kind} upstream, {connections} keep-alive connections, "
        f"median of {repeat} runs of {duration:g} s:"
    )
    print(row("saturated, direct", direct))
    print(row("saturated, through the proxy", via))
    print(row(f"paced {rate} req/s, direct", direct_paced))
    print(row(f"paced {rate} req/s, proxy", via_paced))
    ratio = via["rps"] / direct["rps"] if direct["rps"] else 0.0
    added = via_paced["p99_ms"] - direct_paced["p99_ms"]
    queued = via["p99_ms"] - direct["p99_ms"]
    print(f"  throughput proxy/direct {ratio:.2f} (target >= 0.50: {verdict(ratio >= 0.5)})")
    print(
        f"  p99 added by the proxy at {rate} req/s: {added:+.2f} ms "
        f"(target < 2 ms: {verdict(added < 2)}); at saturation: {queued:+.2f} ms"
    )


async def main(
    kinds: list[str], connections: int, duration: float, paced: float, repeat: int
) -> None:
    loop = type(asyncio.get_running_loop()).__module__
    print(f"python {sys.version.split()[0]}, event loop {loop}, {os.cpu_count()} CPUs\n")
    for kind in kinds:
        await measure(kind, connections, duration, paced, repeat)
        print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of load per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median shown)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--paced", type=float, default=0.5, help="paced rate, as a fraction of direct throughput"
    )
    parser.add_argument(
        "--upstream", nargs="+", choices=["threading", "asyncio"], default=["threading", "asyncio"]
    )
    parser.add_argument("--serve", choices=["threading", "asyncio"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
    else:
        configure("WARNING")
        asyncio.run(main(args.upstream, args.connections, args.duration, args.paced, args.repeat))
