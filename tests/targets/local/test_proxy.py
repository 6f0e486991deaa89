"""The Service proxy over real sockets: asyncio servers on 127.0.0.1 stand in for Pods.

The upstream (``support.proxy_helpers``) is a small HTTP/1.1 server whose misbehaviours are
switches (close a keep-alive connection when its next request arrives, reset it, speak first,
echo raw bytes), so each test shows one promise of the proxy: per-request balancing with
weights, keep-alive, bodies both ways, pipelining, retries that clients never see, and TCP
splicing.
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter

import pytest

from conveyor.errors import ConflictError
from conveyor.targets.local.network.context import ProxyOptions
from conveyor.targets.local.network.endpoints import Endpoint
from conveyor.targets.local.network.proxy import ProxyProtocol, ServiceProxy
from support.proxy_helpers import (
    BIG,
    TIMEOUT,
    Client,
    MakeProxy,
    MakeTcpServer,
    MakeUpstream,
    banner_tcp,
    echo_tcp,
    free_port,
)

pytestmark = pytest.mark.timeout(30)


# -- balancing ------------------------------------------------------------------------------


async def test_requests_on_one_connection_are_balanced_round_robin(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    pods = [await make_upstream(f"pod-{i}") for i in range(3)]
    proxy = await make_proxy(*(p.endpoint for p in pods))
    client = await Client.connect(proxy.port)
    served = [(await client.request()).text for _ in range(30)]
    assert Counter(served) == {"pod-0": 10, "pod-1": 10, "pod-2": 10}
    assert served[:3] != [served[0]] * 3  # per request, not per connection
    assert all(p.connections == 1 for p in pods)  # and over pooled keep-alive connections


async def test_weights_share_requests_and_zero_gets_none(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    stable, canary, off = [await make_upstream(n) for n in ("stable", "canary", "off")]
    proxy = await make_proxy(stable.weighted(3), canary.weighted(1), off.weighted(0))
    client = await Client.connect(proxy.port)
    served = Counter([(await client.request()).text for _ in range(40)])
    assert served == {"stable": 30, "canary": 10}
    assert proxy.endpoints == (stable.weighted(3), canary.weighted(1), off.weighted(0))


async def test_no_endpoints_answers_503_with_a_reason(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy(options=ProxyOptions(endpoint_wait=0.05))
    client = await Client.connect(proxy.port)
    response = await client.request()
    assert response.status == 503
    assert "no ready endpoints" in response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert (await client.request("HEAD")).status == 503  # the connection stays usable


async def test_request_waits_briefly_for_endpoints_to_appear(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    pod = await make_upstream("late")
    proxy = await make_proxy()
    client = await Client.connect(proxy.port)
    client.send()
    await asyncio.sleep(0.05)
    proxy.set_endpoints([pod.endpoint])
    assert (await client.read()).text == "late"


# -- HTTP semantics -------------------------------------------------------------------------


async def test_keep_alive_client_and_upstream_connections_are_reused(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    pod = await make_upstream("pod")
    proxy = await make_proxy(pod.endpoint)
    client = await Client.connect(proxy.port)
    for _ in range(5):
        assert (await client.request()).status == 200
    second = await Client.connect(proxy.port)
    assert (await second.request()).text == "pod"
    assert pod.connections == 1
    assert pod.requests == 6


@pytest.mark.parametrize("size", [0, 10, 300_000], ids=["empty", "small", "streamed"])
async def test_post_body_with_content_length(
    make_upstream: MakeUpstream, make_proxy: MakeProxy, size: int
) -> None:
    proxy = await make_proxy((await make_upstream("pod")).endpoint)
    client = await Client.connect(proxy.port)
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    for _ in range(2):  # and the connection carries on after it
        response = await client.request("POST", "/echo", body)
        assert response.status == 200
        assert response.headers["x-method"] == "POST"
        assert response.body == body


@pytest.mark.parametrize("size", [100, 400_000], ids=["buffered", "streamed"])
async def test_post_body_chunked_in_pieces(
    make_upstream: MakeUpstream, make_proxy: MakeProxy, size: int
) -> None:
    proxy = await make_proxy((await make_upstream("pod")).endpoint)
    client = await Client.connect(proxy.port)
    body = b"0123456789abcdef" * (size // 16)
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    client.writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    for piece in pieces:
        await asyncio.sleep(0.001)
        client.writer.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
    client.writer.write(b"0\r\nX-Trailer: yes\r\n\r\n")
    response = await client.read()
    assert response.body == body
    assert (await client.request()).text == "pod"


async def test_expect_100_continue_is_passed_through(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    proxy = await make_proxy((await make_upstream("pod")).endpoint)
    client = await Client.connect(proxy.port)
    client.writer.write(
        b"PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    )
    assert (await client.read()).status == 100
    client.writer.write(b"hello")
    response = await client.read()
    assert (response.status, response.body) == (200, b"hello")


async def test_chunked_response_is_streamed_and_connection_kept(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    proxy = await make_proxy((await make_upstream("pod")).endpoint)
    client = await Client.connect(proxy.port)
    response = await client.request("GET", "/chunked")
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.body == b"abbccc"
    assert (await client.request()).text == "pod"


async def test_large_response_to_a_slow_client_holds_the_upstream_back(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    pod = await make_upstream("pod")
    proxy = await make_proxy(pod.endpoint)
    client = await Client.connect(proxy.port)
    client.send("GET", "/big")
    await asyncio.sleep(0.3)  # the client reads nothing meanwhile
    assert not pod.big_sent  # backpressure reached the upstream: the proxy did not buffer it
    response = await client.read()
    assert len(response.body) == len(BIG)
    assert response.body == BIG
    assert (await client.request()).text == "pod"


async def test_head_response_has_no_body(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    proxy = await make_proxy((await make_upstream("pod")).endpoint)
    client = await Client.connect(proxy.port)
    response = await client.request("HEAD")
    assert (response.status, response.headers["content-length"], response.body) == (200, "3", b"")
    assert (await client.request()).body == b"pod"  # no stray body bytes in between


async def test_pipelined_requests_are_answered_in_order(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    a, b = await make_upstream("a"), await make_upstream("b")
    proxy = await make_proxy(a.endpoint, b.endpoint)
    client = await Client.connect(proxy.port)
    client.send("GET", "/slow/30")
    client.send("POST", "/echo", b"first")
    client.send("GET", "/chunked")
    client.send("HEAD", "/")
    client.send("GET", "/slow/1")
    client.send("POST", "/echo", b"last")
    responses = [await client.read(head=i == 3) for i in range(6)]
    bodies = [r.body for r in responses]
    assert bodies[1:4] == [b"first", b"abbccc", b""]
    assert bodies[5] == b"last"
    assert {bodies[0], bodies[4]} <= {b"a", b"b"}
    assert [r.headers.get("x-method") for r in responses] == [
        "GET", "POST", None, "HEAD", "GET", "POST",
    ]  # fmt: skip


@pytest.mark.parametrize("path", ["/close", "/http10"], ids=["connection-close", "http-1.0"])
async def test_upstream_closing_after_response_keeps_the_client_connection(
    make_upstream: MakeUpstream, make_proxy: MakeProxy, path: str
) -> None:
    pod = await make_upstream("pod")
    proxy = await make_proxy(pod.endpoint)
    client = await Client.connect(proxy.port)
    for _ in range(3):
        response = await client.request("GET", path)
        assert response.body == b"pod"
        assert "connection" not in response.headers
    assert pod.connections == 3


async def test_client_connection_close_is_honoured(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    proxy = await make_proxy((await make_upstream("pod")).endpoint)
    client = await Client.connect(proxy.port)
    assert (await client.request(headers={"Connection": "close"})).text == "pod"
    assert await client.closed()


async def test_pipelined_requests_before_half_close_are_all_answered(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    proxy = await make_proxy((await make_upstream("pod")).endpoint)
    client = await Client.connect(proxy.port)
    client.send("GET", "/slow/10")
    client.send("GET", "/")
    client.writer.write_eof()
    assert [(await client.read()).text for _ in range(2)] == ["pod", "pod"]
    assert await client.closed()


async def test_websocket_style_upgrade_becomes_a_tunnel(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    pod = await make_upstream("pod")
    proxy = await make_proxy(pod.endpoint)
    client = await Client.connect(proxy.port)
    assert (await client.request()).text == "pod"  # a pooled connection exists already
    client.send("GET", "/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    client.writer.write(b"early")
    response = await client.read()
    assert (response.status, response.headers["upgrade"]) == (101, "echo")
    async with asyncio.timeout(TIMEOUT):
        assert await client.reader.readexactly(5) == b"early"
        client.writer.write(b"\x81\x04ping")
        assert await client.reader.readexactly(6) == b"\x81\x04ping"
    assert pod.connections == 2  # the tunnel got a connection of its own


# -- failures and retries -------------------------------------------------------------------


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
async def test_keep_alive_connection_closed_by_upstream_is_retried(
    make_upstream: MakeUpstream, make_proxy: MakeProxy, reset: bool
) -> None:
    pod = await make_upstream("pod", answer_per_connection=1, reset=reset)
    proxy = await make_proxy(pod.endpoint)
    client = await Client.connect(proxy.port)
    for method in ("GET", "HEAD", "PUT", "DELETE", "GET"):
        response = await client.request(method)
        assert (response.status, response.headers["x-method"]) == (200, method)
    assert pod.requests == 5
    assert pod.connections == 5  # every reused connection failed once and was replaced


async def test_unsafe_request_is_not_sent_twice_but_avoids_stale_connections(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    pod = await make_upstream("pod", answer_per_connection=1)
    proxy = await make_proxy(pod.endpoint)
    client = await Client.connect(proxy.port)
    assert (await client.request()).status == 200
    # sent on the pooled connection, which the upstream then closes: it may have acted on it
    response = await client.request("POST", "/echo", b"once")
    assert response.status == 502
    assert pod.requests == 1
    # unless the client says it is safe to repeat
    client = await Client.connect(proxy.port)
    assert (await client.request()).status == 200
    response = await client.request("POST", "/echo", b"key", {"Idempotency-Key": "k1"})
    assert (response.status, response.body) == (200, b"key")
    # and a pooled connection idle for a while is not used for it at all
    proxy = await make_proxy(pod.endpoint, options=ProxyOptions(unsafe_reuse_idle=0.0))
    client = await Client.connect(proxy.port)
    assert (await client.request()).status == 200
    response = await client.request("POST", "/echo", b"fresh")
    assert (response.status, response.body) == (200, b"fresh")


async def test_refused_endpoint_is_skipped_for_another(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    pod = await make_upstream("pod")
    dead = Endpoint("127.0.0.1", free_port(), name="dead")
    # down_for 0: keep trying it, so every request retries
    proxy = await make_proxy(dead, pod.endpoint, options=ProxyOptions(down_for=0.0))
    client = await Client.connect(proxy.port)
    assert [(await client.request()).text for _ in range(6)] == ["pod"] * 6
    response = await client.request("POST", "/echo", b"never sent, so retried")
    assert response.body == b"never sent, so retried"


async def test_502_when_every_endpoint_fails(
    make_tcp_server: MakeTcpServer, make_proxy: MakeProxy
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")

    dead = Endpoint("127.0.0.1", free_port())
    proxy = await make_proxy(dead, await make_tcp_server(hang_up))
    client = await Client.connect(proxy.port)
    response = await client.request()
    assert response.status == 502
    assert "no endpoint answered" in response.text
    proxy.set_endpoints([await make_tcp_server(not_http)])
    assert (await client.request()).status == 502


# -- endpoint changes -----------------------------------------------------------------------


async def test_set_endpoints_swap_under_load_loses_no_request(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    pods = [await make_upstream("v1-0"), await make_upstream("v1-1")]
    proxy = await make_proxy(*(p.endpoint for p in pods))
    results: list[str] = []
    running = True

    async def client_loop(i: int) -> None:
        client = await Client.connect(proxy.port)
        n = 0
        while running:
            n += 1
            if n % 3 == 0:
                body = f"{i}-{n}".encode()
                response = await client.request("POST", "/echo", body)
                ok = response.status == 200 and response.body == body
            else:
                response = await client.request("GET", "/slow/5" if n % 3 == 1 else "/")
                ok = response.status == 200 and response.text.startswith("v")
            results.append("ok" if ok else f"{response.status} {response.text}")
        client.close()

    async def rollout() -> None:
        # as the runtime does it: new Pod Ready and added, then old one removed, then stopped
        for version in range(2, 8):
            for replica in range(2):
                pods.append(await make_upstream(f"v{version}-{replica}"))
                proxy.set_endpoints([p.endpoint for p in pods])
                await asyncio.sleep(0.03)
                old = pods.pop(0)
                proxy.set_endpoints([p.endpoint for p in pods])
                await asyncio.sleep(0.005)  # the signal reaches the Pod a moment later
                await old.stop()
                await asyncio.sleep(0.03)

    clients = [asyncio.create_task(client_loop(i)) for i in range(20)]
    await rollout()
    running = False
    await asyncio.gather(*clients)
    assert len(results) > 500
    assert [r for r in results if r != "ok"] == []


async def test_removed_endpoint_finishes_in_flight_and_closes_idle(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    old, new = await make_upstream("old"), await make_upstream("new")
    proxy = await make_proxy(old.endpoint)
    busy = await Client.connect(proxy.port)
    busy.send("GET", "/slow/1500")
    await asyncio.sleep(0.03)
    idle = await Client.connect(proxy.port)
    assert (await idle.request()).text == "old"  # on a second connection, now pooled
    assert len(old.open) == 2
    proxy.set_endpoints([new.endpoint])
    async with asyncio.timeout(1.0):  # the idle one closes at once, the busy one stays
        while len(old.open) > 1:
            await asyncio.sleep(0.005)
    assert (await idle.request()).text == "new"
    assert (await busy.read()).text == "old"
    async with asyncio.timeout(TIMEOUT):  # and closes once its response is through
        while old.open:
            await asyncio.sleep(0.01)


# -- TCP mode and sniffing ------------------------------------------------------------------


async def test_tcp_mode_pipes_both_ways_with_half_close(
    make_tcp_server: MakeTcpServer, make_proxy: MakeProxy
) -> None:
    proxy = await make_proxy(await make_tcp_server(echo_tcp), protocol="tcp")
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    payload = bytes(range(256)) * 16384  # 4 MiB: more than any buffer, so backpressure works

    async def send() -> None:
        for i in range(0, len(payload), 65536):
            writer.write(payload[i : i + 65536])
            await writer.drain()
        writer.write_eof()  # half-close: the answer must still come back

    sender = asyncio.create_task(send())
    async with asyncio.timeout(TIMEOUT):
        received = await reader.read(-1)
    await sender
    assert received == payload + b"bye"


async def test_tcp_mode_balances_per_connection(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    a, b = await make_upstream("a"), await make_upstream("b")
    proxy = await make_proxy(a.endpoint, b.endpoint, protocol="tcp")
    served = []
    for _ in range(2):
        client = await Client.connect(proxy.port)
        served.append(" ".join([(await client.request()).text for _ in range(3)]))
        client.close()
    assert sorted(served) == ["a a a", "b b b"]


@pytest.mark.parametrize("protocol", ["http", "auto"])
async def test_auto_sniffs_http_and_balances_per_request(
    make_upstream: MakeUpstream, make_proxy: MakeProxy, protocol: ProxyProtocol
) -> None:
    a, b = await make_upstream("a"), await make_upstream("b")
    proxy = await make_proxy(a.endpoint, b.endpoint, protocol=protocol)
    client = await Client.connect(proxy.port)
    # the request line arrives in pieces, as a slow client sends it
    for piece in (b"GE", b"T /ec", b"ho HTTP/1.", b"1\r\nContent-Length: 2\r\n\r\nhi"):
        client.writer.write(piece)
        await asyncio.sleep(0.01)
    assert (await client.read()).body == b"hi"
    assert {(await client.request()).text for _ in range(2)} == {"a", "b"}


@pytest.mark.parametrize("first", [b"\x16\x03\x01\x02\x00", b"PING\r\n", b"hello world"])
async def test_auto_takes_other_bytes_as_tcp(
    make_tcp_server: MakeTcpServer, make_proxy: MakeProxy, first: bytes
) -> None:
    proxy = await make_proxy(await make_tcp_server(echo_tcp), protocol="auto")
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(first)
    writer.write_eof()
    async with asyncio.timeout(TIMEOUT):
        assert await reader.read(-1) == first + b"bye"


async def test_auto_takes_a_silent_client_as_tcp_for_servers_that_speak_first(
    make_tcp_server: MakeTcpServer, make_proxy: MakeProxy
) -> None:
    proxy = await make_proxy(await make_tcp_server(banner_tcp), protocol="auto")
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    async with asyncio.timeout(TIMEOUT):
        assert await reader.readuntil(b"\r\n") == b"220 ready\r\n"
        writer.write(b"QUIT\r\n")
        writer.write_eof()
        assert await reader.read(-1) == b"QUIT\r\nbye"


# -- lifecycle ------------------------------------------------------------------------------


async def test_port_taken_raises_conflict_naming_port_and_service() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proxy = ServiceProxy(name="default/web/http", port=port)
        with pytest.raises(ConflictError) as err:
            await proxy.start()
    assert str(port) in str(err.value)
    assert "default/web/http" in str(err.value)
    assert "already in use" in str(err.value)


async def test_port_zero_picks_a_free_port(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy()
    assert proxy.port > 0
    assert proxy.endpoints == ()


async def test_stop_closes_listener_and_every_connection(make_upstream: MakeUpstream) -> None:
    pod = await make_upstream("pod")
    proxy = ServiceProxy(name="default/web/http", port=0)
    await proxy.start()
    proxy.set_endpoints([pod.endpoint])
    port = proxy.port
    idle = await Client.connect(port)
    assert (await idle.request()).text == "pod"
    busy = await Client.connect(port)
    busy.send("GET", "/slow/500")
    tunnel_r, tunnel_w = await asyncio.open_connection("127.0.0.1", port)
    tunnel_w.write(b"\x00binary")  # sniffed as TCP and spliced to the upstream
    await asyncio.sleep(0.05)
    await proxy.stop()
    assert await idle.closed()
    assert await busy.closed()
    async with asyncio.timeout(TIMEOUT):
        assert await tunnel_r.read() == b""
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    async with asyncio.timeout(TIMEOUT):
        while pod.open:  # pooled and in-flight upstream connections are gone too
            await asyncio.sleep(0.01)
    await proxy.stop()  # twice is harmless
