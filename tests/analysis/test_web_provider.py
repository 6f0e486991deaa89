"""The web provider against a real local HTTP server: methods, bodies, headers, jsonPath,
timeouts and status codes, and that nothing but the metric's own headers is sent."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conveyor.analysis.providers import default_providers, measure
from conveyor.clock import SystemClock
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.status import AnalysisPhase, Measurement

S, F, E = AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED, AnalysisPhase.ERROR


class Recorder:
    """What the server saw, and what it answers per path."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hang = threading.Event()


@contextlib.contextmanager
def http_server(recorder: Recorder) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            if self.path.startswith("/slow"):
                recorder.hang.wait(10)
            status, headers, payload = recorder.routes.get(
                self.path.split("?")[0], (404, {}, b"not found")
            )
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = handle_any

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        recorder.hang.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    with http_server(recorder) as url:
        yield url, recorder


def web(url: str, **fields: Any) -> Metric:
    conditions = {k: fields.pop(k) for k in ("successCondition", "failureCondition") if k in fields}
    return Metric.model_validate(
        {"name": "webmetric", "provider": {"web": {"url": url, **fields}}, **conditions}
    )


async def run(m: Metric) -> Measurement:
    return await measure(m, default_providers(), SystemClock())


def json_route(recorder: Recorder, path: str, data: Any, status: int = 200) -> None:
    payload = json.dumps(data).encode()
    recorder.routes[path] = (status, {"Content-Type": "application/json"}, payload)


async def test_get_with_json_path(server: tuple[str, Recorder]) -> None:
    url, rec = server
    json_route(rec, "/api/v1/measurement", {"data": {"ok": True, "successPercent": 0.95}})
    m = await run(
        web(
            f"{url}/api/v1/measurement?service=x",
            jsonPath="{$.data.ok}",
            successCondition="result == true",
        )
    )
    assert (m.phase, m.value) == (S, "true")
    whole = await run(
        web(
            f"{url}/api/v1/measurement",
            jsonPath="{$.data}",
            successCondition="result.ok && result.successPercent >= 0.90",
        )
    )
    assert whole.phase is S
    assert json.loads(whole.value or "") == {"ok": True, "successPercent": 0.95}
    low = await run(
        web(
            f"{url}/api/v1/measurement",
            jsonPath="{.data.successPercent}",
            successCondition="result >= 0.99",
        )
    )
    assert (low.phase, low.value) == (F, "0.95")
    assert rec.requests[0]["method"] == "GET" and rec.requests[0]["path"].endswith("service=x")


async def test_post_json_body_and_put_body(server: tuple[str, Recorder]) -> None:
    url, rec = server
    json_route(rec, "/judge", {"results": {"ok": "1"}})
    m = await run(
        web(
            f"{url}/judge",
            method="POST",
            jsonBody={"key1": "value_1", "key2": {"nestedObj": "nested value"}},
            jsonPath="{$.results.ok}",
            successCondition="asInt(result) == 1",
        )
    )
    assert m.phase is S
    sent = rec.requests[-1]
    assert sent["method"] == "POST"
    assert sent["headers"]["content-type"] == "application/json"
    assert json.loads(sent["body"]) == {"key1": "value_1", "key2": {"nestedObj": "nested value"}}
    await run(web(f"{url}/judge", method="PUT", body="string value", successCondition="true"))
    assert (rec.requests[-1]["method"], rec.requests[-1]["body"]) == ("PUT", b"string value")


async def test_only_the_metrics_headers_are_sent(
    server: tuple[str, Recorder], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, rec = server
    json_route(rec, "/m", {"ok": True})
    # credentials and a proxy that Conveyor's own environment might hold
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login conveyor password hunter2\n")
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    m = await run(
        web(
            f"{url}/m",
            headers=[{"key": "X-Api-Key", "value": "from-the-metric"}],
            jsonPath="{$.ok}",
            successCondition="result == true",
        )
    )
    assert m.phase is S
    headers = rec.requests[-1]["headers"]
    assert headers["x-api-key"] == "from-the-metric"
    assert "authorization" not in headers and "cookie" not in headers


async def test_redirect_to_another_origin_drops_authorization(
    server: tuple[str, Recorder],
) -> None:
    url, rec = server
    other = Recorder()
    json_route(other, "/landing", {"ok": True})
    with http_server(other) as other_url:
        rec.routes["/moved"] = (302, {"Location": f"{other_url}/landing"}, b"")
        m = await run(
            web(
                f"{url}/moved",
                headers=[{"key": "Authorization", "value": "Bearer token"}],
                jsonPath="{$.ok}",
                successCondition="result == true",
            )
        )
    assert m.phase is S
    assert rec.requests[-1]["headers"]["authorization"] == "Bearer token"
    assert "authorization" not in other.requests[-1]["headers"]


async def test_non_2xx_is_an_error(server: tuple[str, Recorder]) -> None:
    url, rec = server
    json_route(rec, "/broken", {"error": "boom"}, status=500)
    m = await run(web(f"{url}/broken", successCondition="true"))
    assert (m.phase, m.message) == (E, "received non 2xx response code: 500")


async def test_timeout_is_an_error(server: tuple[str, Recorder]) -> None:
    url, rec = server
    json_route(rec, "/slow", {"ok": True})
    m = await run(web(f"{url}/slow", timeoutSeconds=1, successCondition="true"))
    assert m.phase is E
    assert "within 1s" in m.message


async def test_plain_text_body_is_the_result(server: tuple[str, Recorder]) -> None:
    url, rec = server
    rec.routes["/text"] = (200, {"Content-Type": "text/plain"}, b"ok")
    assert (await run(web(f"{url}/text", successCondition='result == "ok"'))).phase is S
    assert (await run(web(f"{url}/text", successCondition='result == "fine"'))).phase is F


async def test_json_path_finding_nothing_is_an_error(server: tuple[str, Recorder]) -> None:
    url, rec = server
    json_route(rec, "/m", {"data": {}})
    m = await run(web(f"{url}/m", jsonPath="{$.data.ok}", successCondition="result == true"))
    assert m.phase is E
    assert m.message.startswith("Could not find JSONPath in body")
