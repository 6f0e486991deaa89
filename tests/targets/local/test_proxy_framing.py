"""How the proxy frames what it forwards: strict parsing, and hop-by-hop headers kept at the hop.

Request smuggling needs two parsers that disagree on where a request ends. The proxy refuses
the ambiguous forms with a 400 before any byte reaches a Pod, and sends Pods requests it framed
itself.
"""

from __future__ import annotations

import asyncio

import pytest

from support.proxy_helpers import Client, MakeProxy, MakeTcpServer, MakeUpstream

pytestmark = pytest.mark.timeout(30)

AMBIGUOUS = {
    "length-and-chunked": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two-lengths": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n"
    b"\r\nabcde",
    "space-before-colon": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length : 4\r\n\r\nabcd",
    "bare-lf": b"GET / HTTP/1.1\nHost: t\n\n",
    "not-chunked-last": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n"
    b"\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("raw", AMBIGUOUS.values(), ids=AMBIGUOUS.keys())
async def test_ambiguous_requests_are_refused_before_reaching_a_pod(
    make_upstream: MakeUpstream, make_proxy: MakeProxy, raw: bytes
) -> None:
    pod = await make_upstream("pod")
    proxy = await make_proxy(pod.endpoint)
    client = await Client.connect(proxy.port)
    client.writer.write(raw)
    response = await client.read()
    assert response.status == 400
    assert response.headers["connection"] == "close"
    assert await client.closed()
    assert pod.connections == 0


async def test_refused_request_is_answered_after_those_before_it(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    proxy = await make_proxy((await make_upstream("pod")).endpoint)
    client = await Client.connect(proxy.port)
    client.send("GET", "/slow/20")
    client.writer.write(AMBIGUOUS["two-lengths"])
    assert (await client.read()).text == "pod"
    assert (await client.read()).status == 400


async def test_a_head_too_large_is_refused(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    pod = await make_upstream("pod")
    proxy = await make_proxy(pod.endpoint)
    client = await Client.connect(proxy.port)
    client.send(headers={f"X-Filler-{i}": "x" * 1000 for i in range(70)})
    assert (await client.read()).status == 431
    assert pod.connections == 0


async def test_hop_by_hop_headers_stay_at_the_hop(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    proxy = await make_proxy((await make_upstream("pod")).endpoint)
    client = await Client.connect(proxy.port)
    response = await client.request(
        "GET",
        "/headers",
        headers={
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "only for the proxy",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "X-End-To-End": "yes",
        },
    )
    assert response.text.split("\n") == ["host", "x-end-to-end"]


async def test_http10_client_gets_a_chunked_response_unchunked(
    make_upstream: MakeUpstream, make_proxy: MakeProxy
) -> None:
    proxy = await make_proxy((await make_upstream("pod")).endpoint)
    client = await Client.connect(proxy.port)
    client.writer.write(b"GET /chunked HTTP/1.0\r\n\r\n")
    response = await client.read()
    assert "transfer-encoding" not in response.headers
    assert response.body == b"abbccc"  # ended by the close, as HTTP/1.0 frames it


async def test_ambiguous_response_is_a_502_not_passed_on(
    make_tcp_server: MakeTcpServer, make_proxy: MakeProxy
) -> None:
    async def smuggler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
        )
        await writer.drain()

    proxy = await make_proxy(await make_tcp_server(smuggler))
    client = await Client.connect(proxy.port)
    response = await client.request()
    assert response.status == 502
    assert b"evil" not in response.body


async def test_bytes_after_a_response_never_reach_the_next_request(
    make_tcp_server: MakeTcpServer, make_proxy: MakeProxy
) -> None:
    connections = 0

    async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            # one response, then the start of another nobody asked for
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
            await writer.drain()

    proxy = await make_proxy(await make_tcp_server(chatty))
    client = await Client.connect(proxy.port)
    for _ in range(3):
        response = await client.request()
        assert (response.status, response.body) == (200, b"ok")
    assert connections == 3  # a connection that broke the protocol is not used again
