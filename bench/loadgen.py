"""A fast HTTP/1.1 keep-alive load generator, so the client is not what a benchmark measures.

Raw asyncio Protocols, one pre-built request, and a response parser that reads only the status
line and the framing (Content-Length, chunked, or close). Each connection sends its next
request as soon as the previous response is complete, or, with ``requests_per_second``, when
the shared pacing clock allows (tests use that for a steady load during Pod churn).

Run it in its own process for benchmarks, so it does not share an event loop with what it
measures::

    python bench/loadgen.py --host 127.0.0.1 --port 8080 --connections 50 --duration 5

prints a JSON ``LoadResult``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LoadResult:
    """What one run measured; latencies are per request, in milliseconds."""

    requests: int  # responses received whole
    errors: int  # requests lost: connection failed or reset before the response was whole
    non_2xx: int  # responses whose status was not 2xx (counted in ``requests`` too)
    duration: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float


class _Run:
    """State shared by the connections of one run."""

    def __init__(
        self,
        host: str,
        port: int | list[int],
        path: str,
        duration: float,
        requests_per_second: float | None,
    ) -> None:
        self.host = host
        self.ports = port if isinstance(port, list) else [port]
        self.port = self.ports[0]
        self.connects = 0
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{self.port}\r\n"
            "User-Agent: conveyor-loadgen\r\n\r\n"
        ).encode()
        self.loop = asyncio.get_running_loop()
        self.start = self.loop.time()
        self.deadline = self.start + duration
        self.interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self.next_slot = self.start
        self.latencies: list[float] = []
        self.errors = 0
        self.non_2xx = 0
        self.in_flight = 0
        self.last_done = self.start
        self.idle = asyncio.Event()  # set when the run is over and nothing is in flight
        self.clients: set[_Client] = set()
        self.connecting = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def over(self) -> bool:
        return self.loop.time() >= self.deadline

    def schedule(self, client: _Client) -> None:
        """Send the client's next request now, or at its pacing slot."""
        now = self.loop.time()
        if now >= self.deadline:
            client.finish()
            return
        if not self.interval:
            client.send()
            return
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot >= self.deadline:
            client.finish()
        elif slot > now:
            self.loop.call_at(slot, client.send)
        else:
            client.send()

    def connect(self) -> None:
        if self.over():
            self._check_idle()
            return
        self.connecting += 1
        task = self.loop.create_task(self._connect())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect(self) -> None:
        try:
            port = self.ports[self.connects % len(self.ports)]  # spread over the ports
            self.connects += 1
            await self.loop.create_connection(lambda: _Client(self), self.host, port)
        except OSError:
            self.errors += 1
            await asyncio.sleep(0.05)
            self.connecting -= 1
            self.connect()
            return
        self.connecting -= 1

    def _check_idle(self) -> None:
        if self.over() and not self.in_flight and not self.connecting:
            self.idle.set()

    def completed(self, started: float, status: int) -> None:
        now = time.perf_counter()
        self.latencies.append(now - started)
        if not 200 <= status < 300:
            self.non_2xx += 1
        self.last_done = self.loop.time()

    def result(self) -> LoadResult:
        lat = sorted(self.latencies)
        n = len(lat)
        duration = max(min(self.last_done, self.deadline) - self.start, 1e-9)

        def pct(q: float) -> float:
            return round(lat[min(n - 1, int(q * n))] * 1000, 3) if n else 0.0

        return LoadResult(
            requests=n,
            errors=self.errors,
            non_2xx=self.non_2xx,
            duration=round(duration, 3),
            rps=round(n / duration, 1),
            p50_ms=pct(0.50),
            p99_ms=pct(0.99),
            max_ms=round(lat[-1] * 1000, 3) if n else 0.0,
        )


class _Client(asyncio.Protocol):
    """One keep-alive connection sending requests one after another."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.started = 0.0
        self.waiting = False  # a request is out
        self.need = -1  # body bytes still expected; -1: reading a head; -2: chunked; -3: eof
        self.status = 0
        self.close_after = False
        self.done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.run.clients.add(self)
        self.run.schedule(self)

    def send(self) -> None:
        if self.done or self.transport is None or self.transport.is_closing():
            return
        self.waiting = True
        self.run.in_flight += 1
        self.started = time.perf_counter()
        self.transport.write(self.run.request)

    def finish(self) -> None:
        self.done = True
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while buf:
            if self.need == -1:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buf[:end]).lower()
                self.status = int(head[9:12])
                del buf[: end + 4]
                self.close_after = b"\r\nconnection: close" in head
                i = head.find(b"\r\ncontent-length:")
                if i >= 0:
                    j = head.find(b"\r\n", i + 2)
                    self.need = int(head[i + 17 : j if j >= 0 else len(head)])
                elif b"\r\ntransfer-encoding: chunked" in head:
                    self.need = -2
                elif 100 <= self.status < 200 or self.status in (204, 304):
                    self.need = 0
                else:
                    self.need = -3
            if self.need >= 0:
                if len(buf) < self.need:
                    return
                del buf[: self.need]
                self._response_done()
            elif self.need == -2:
                if not self._chunked(buf):
                    return
                self._response_done()
            else:  # close-delimited: the rest until EOF
                buf.clear()
                return

    def _chunked(self, buf: bytearray) -> bool:
        """Consume whole chunks from ``buf``; True when the terminal chunk is consumed."""
        while True:
            eol = buf.find(b"\r\n")
            if eol < 0:
                return False
            size = int(bytes(buf[:eol]).split(b";", 1)[0], 16)
            if size == 0:
                end = buf.find(b"\r\n\r\n", eol - 1 if eol else 0)
                if end < 0:
                    return False
                del buf[: end + 4]
                return True
            if len(buf) < eol + 2 + size + 2:
                return False
            del buf[: eol + 2 + size + 2]

    def _response_done(self) -> None:
        if 100 <= self.status < 200:
            self.need = -1
            return
        self.need = -1
        self.waiting = False
        self.run.in_flight -= 1
        self.run.completed(self.started, self.status)
        if self.close_after:
            self.finish()
            self.run.connect()
        else:
            self.run.schedule(self)

    def connection_lost(self, exc: Exception | None) -> None:
        run = self.run
        run.clients.discard(self)
        if self.waiting:
            self.waiting = False
            run.in_flight -= 1
            if self.need == -3:
                run.completed(self.started, self.status)
            else:
                run.errors += 1
        if not self.done:
            run.connect()
        run._check_idle()


async def run_load(
    host: str,
    port: int | list[int],
    *,
    path: str = "/",
    connections: int = 50,
    duration: float = 5.0,
    requests_per_second: float | None = None,
) -> LoadResult:
    """Keep ``connections`` keep-alive connections busy for ``duration`` seconds."""
    run = _Run(host, port, path, duration, requests_per_second)
    for _ in range(connections):
        run.connect()
    await asyncio.sleep(duration)
    run._check_idle()
    try:
        await asyncio.wait_for(run.idle.wait(), 10.0)
    except TimeoutError:
        run.errors += run.in_flight  # no answer within 10 s after the end: count as lost
    for client in list(run.clients):
        client.finish()
    return run.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    # host and port as flags; also accepted positionally, as older callers pass them
    parser.add_argument("host_arg", nargs="?", metavar="HOST", help=argparse.SUPPRESS)
    parser.add_argument("port_arg", nargs="?", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--host", default=None, help="where to send requests (127.0.0.1)")
    parser.add_argument(
        "--port", default=None, help="port to send requests to (several: comma-separated)"
    )
    parser.add_argument("--path", default="/")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rps", type=float, default=None, help="pace total load to this rate")
    args = parser.parse_args()
    host = args.host or args.host_arg or "127.0.0.1"
    if args.port is not None:
        ports = [int(p) for p in str(args.port).split(",")]
        port: int | list[int] = ports if len(ports) > 1 else ports[0]
    elif args.port_arg is not None:
        port = args.port_arg
    else:
        parser.error("--port is required")
    result = asyncio.run(
        run_load(
            host,
            port,
            path=args.path,
            connections=args.connections,
            duration=args.duration,
            requests_per_second=args.rps,
        )
    )
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
