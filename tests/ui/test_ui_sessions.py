"""Signing in to the UI, and the rules of its session cookie, in process (no browser).

The cookie stands for a token without holding it; a cookie-authenticated request that changes
something needs this server's Origin and htmx's HX-Request header, else 403; bearer-token
clients are not concerned; logging out or revoking the token ends the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ui_fake_app import admin_token, fake_app

from conveyor.api.sessions import COOKIE

ORIGIN = "http://testserver"
UI = {"Origin": ORIGIN, "HX-Request": "true"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(fake_app(home), follow_redirects=False) as client:
        yield client


def login(client: TestClient, token: str, origin: str = ORIGIN) -> str:
    """Sign in; returns the session cookie's value (also kept by the client)."""
    answer = client.post(
        "/ui/login", data={"token": token, "next": "/ui/deployments"}, headers={"Origin": origin}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ui/deployments"
    return str(client.cookies[COOKIE])


def test_pages_send_a_browser_without_a_session_to_the_login_page(client: TestClient) -> None:
    answer = client.get("/ui/applications")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=/ui/applications"
    htmx = client.get("/ui/applications", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/ui/login?next=/ui/applications"
    page = client.get("/ui/login")
    assert page.status_code == 200
    assert 'name="token"' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert (
        client.get("/ui/stream/applications", headers={"Accept": "text/event-stream"}).status_code
        == 401
    )


def test_login_sets_an_httponly_strict_cookie_that_is_not_the_token(
    client: TestClient, home: Path
) -> None:
    token = admin_token(home)
    answer = client.post("/ui/login", data={"token": token}, headers={"Origin": ORIGIN})
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert token not in cookie
    assert client.get("/ui/applications").status_code == 200
    assert client.get("/api/v1/applications").status_code == 200  # the API reads it too


def test_the_event_streams_accept_the_cookie(client: TestClient, home: Path) -> None:
    login(client, admin_token(home))
    with client.stream("GET", "/ui/stream/applications") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert next(stream.iter_lines()) == "event: tiles"


def test_over_https_the_cookie_is_secure(home: Path) -> None:
    with TestClient(fake_app(home), base_url="https://testserver", follow_redirects=False) as c:
        answer = c.post(
            "/ui/login", data={"token": admin_token(home)}, headers={"Origin": "https://testserver"}
        )
        assert answer.status_code == 303
        assert "Secure" in answer.headers["set-cookie"]


def test_login_refuses_a_wrong_token_and_another_sites_form(client: TestClient, home: Path) -> None:
    wrong = client.post("/ui/login", data={"token": "cvy_nope"}, headers={"Origin": ORIGIN})
    assert wrong.status_code == 401
    assert "not valid" in wrong.text
    token = admin_token(home)
    elsewhere = client.post(
        "/ui/login", data={"token": token}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403
    assert COOKIE not in elsewhere.headers.get("set-cookie", "")
    no_origin = client.post("/ui/login", data={"token": token})
    assert no_origin.status_code == 403


def test_after_login_only_a_same_site_html_request_may_change_anything(
    client: TestClient, home: Path
) -> None:
    login(client, admin_token(home))
    url = "/ui/applications/missing/sync"
    refused = {
        "no headers": {},
        "no HX-Request": {"Origin": ORIGIN},
        "no Origin": {"HX-Request": "true"},
        "another Origin": {"Origin": "https://evil.example", "HX-Request": "true"},
        "another port": {"Origin": "http://testserver:8080", "HX-Request": "true"},
        "null Origin": {"Origin": "null", "HX-Request": "true"},
    }
    for what, headers in refused.items():
        bodyless = client.post(url, headers=headers)
        assert bodyless.status_code == 403, what
        with_body = client.post(url, data={"prune": "on"}, headers=headers)
        assert with_body.status_code == 403, what
        api = client.post("/api/v1/applications/missing/sync", json={}, headers=headers)
        assert api.status_code == 403, what
    # Past the rules, the request reaches its handler (which has no such app).
    assert client.post(url, headers=UI).status_code == 404
    assert client.post(url, data={"prune": "on"}, headers=UI).status_code == 404
    assert client.post("/api/v1/applications/missing/sync", json={}, headers=UI).status_code == 404
    # Reading needs neither.
    assert client.get("/ui/deployments").status_code == 200
    missing = client.get("/ui/applications/missing")
    assert missing.status_code == 404
    assert "No such application" in missing.text


def test_bearer_token_clients_need_no_origin_nor_htmx(client: TestClient, home: Path) -> None:
    bearer = {"Authorization": f"Bearer {admin_token(home)}"}
    assert (
        client.post("/api/v1/applications/missing/sync", json={}, headers=bearer).status_code == 404
    )
    assert client.post("/ui/applications/missing/refresh", headers=bearer).status_code == 404


def test_logout_ends_the_session_on_the_server(client: TestClient, home: Path) -> None:
    session = login(client, admin_token(home))
    assert client.post("/ui/logout", headers={"Origin": ORIGIN}).status_code == 403
    answer = client.post("/ui/logout", headers=UI)
    assert answer.status_code == 204
    assert answer.headers["HX-Redirect"] == "/ui/login"
    assert (
        f'{COOKIE}=""' in answer.headers["set-cookie"]
        or "Max-Age=0" in answer.headers["set-cookie"]
    )
    client.cookies.set(COOKIE, session)  # a copy of the cookie kept elsewhere is worth nothing
    assert client.get("/ui/applications").status_code == 303
    assert client.get("/api/v1/applications").status_code == 401


def test_revoking_the_token_ends_its_sessions(client: TestClient, home: Path) -> None:
    bearer = {"Authorization": f"Bearer {admin_token(home)}"}
    made = client.post(
        "/api/v1/account/token", json={"name": "viewer", "role": "readonly"}, headers=bearer
    )
    assert made.status_code == 200, made.text
    login(client, made.json()["token"])
    assert client.get("/ui/applications").status_code == 200
    # A read-only token's session may read, and may change only what its role allows.
    project = {"metadata": {"name": "team"}, "spec": {}}
    assert client.post("/api/v1/projects", json=project, headers=UI).status_code == 403
    token_id = made.json()["id"]
    client.delete(f"/api/v1/account/tokens/{token_id}", headers=bearer).raise_for_status()
    assert client.get("/ui/applications").status_code == 303


def test_a_forged_or_unknown_session_is_no_session(client: TestClient) -> None:
    client.cookies.set(COOKIE, "not-a-session")
    assert client.get("/ui/applications").status_code == 303
    refused = client.post("/ui/applications/missing/sync", headers=UI)
    assert refused.headers["HX-Redirect"].startswith("/ui/login")
    assert client.post("/api/v1/applications/missing/sync", json={}, headers=UI).status_code == 401
