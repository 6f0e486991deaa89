"""The UI's report and record pages, and the audit trail of what is done in the UI, in process.

What a person does in the UI (sign in and out, Sync, Refresh, Rollback, Delete, a Rollout's
buttons) is in the audit trail as what is done through the API is, with the session's token
as the actor; the DORA, compliance, audit, notifications and promotions pages answer, are in
the navigation, and show what the API shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ui_fake_app import admin_token, fake_app

from conveyor.api.ui.charts import per_day, timeline

ORIGIN = "http://testserver"
UI = {"Origin": ORIGIN, "HX-Request": "true"}
PAGES = ("/ui/dora", "/ui/compliance", "/ui/audit", "/ui/notifications", "/ui/promotions")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(fake_app(home), follow_redirects=False) as client:
        yield client


def login(client: TestClient, token: str) -> None:
    answer = client.post("/ui/login", data={"token": token}, headers={"Origin": ORIGIN})
    assert answer.status_code == 303, answer.text


def audit(client: TestClient, home: Path, **query: str) -> list[dict[str, Any]]:
    bearer = {"Authorization": f"Bearer {admin_token(home)}"}
    answer = client.get("/api/v1/audit", params=query, headers=bearer)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def readonly_token(client: TestClient, home: Path, name: str) -> str:
    bearer = {"Authorization": f"Bearer {admin_token(home)}"}
    made = client.post(
        "/api/v1/account/token", json={"name": name, "role": "readonly"}, headers=bearer
    )
    assert made.status_code == 200, made.text
    return str(made.json()["token"])


def test_what_is_done_in_the_ui_is_audited_with_the_sessions_token(
    client: TestClient, home: Path
) -> None:
    wrong = client.post("/ui/login", data={"token": "cvy_nope"}, headers={"Origin": ORIGIN})
    assert wrong.status_code == 401
    login(client, admin_token(home))
    assert (
        client.post("/ui/applications/gone/sync", data={"prune": "on"}, headers=UI).status_code
        == 404
    )
    assert client.post("/ui/applications/gone/refresh", headers=UI).status_code == 404
    assert (
        client.post("/ui/applications/gone/rollback", data={"id": "1"}, headers=UI).status_code
        == 404
    )
    assert client.post("/ui/applications/gone/rollout/web/abort", headers=UI).status_code == 404
    assert client.post("/ui/applications/gone/sync", headers={"Origin": ORIGIN}).status_code == 403
    assert client.post("/ui/logout", headers=UI).status_code == 204

    rows = [
        (e["user"], e["action"], e["targetKind"], e["target"], e["app"], e["outcome"])
        for e in audit(client, home)
    ]
    assert rows == [
        ("anonymous", "session.login", "Session", "", "", "401"),
        ("admin", "session.login", "Session", "admin", "", "303"),
        ("admin", "applications.sync", "Application", "gone", "gone", "404"),
        ("admin", "applications.refresh", "Application", "gone", "gone", "404"),
        ("admin", "applications.rollback", "Application", "gone", "gone", "404"),
        ("admin", "applications.action/argoproj.io/Rollout/abort", "Application", "gone",
         "gone", "404"),
        # refused before any handler (no HX-Request): no session caller was accepted
        ("anonymous", "applications.sync", "Application", "gone", "gone", "403"),
        ("admin", "session.logout", "Session", "admin", "", "204"),
    ]  # fmt: skip
    # the pages are GETs: reading is not audited
    assert client.get("/ui/login").status_code == 200
    assert len(audit(client, home)) == len(rows)


def test_a_rollout_button_is_audited_under_its_sessions_token(
    client: TestClient, home: Path
) -> None:
    login(client, readonly_token(client, home, "viewer"))
    answer = client.post("/ui/applications/gone/rollout/web/promote-full", headers=UI)
    assert answer.status_code == 404  # as through the API: no app, nothing to refuse
    url = "/ui/applications/gone/rollout/web/abort"
    assert client.post(url, headers={"Origin": ORIGIN}).status_code == 403  # no HX-Request
    other = {"Origin": "https://evil.example", "HX-Request": "true"}
    assert client.post(url, headers=other).status_code == 403
    unknown = client.post("/ui/applications/gone/rollout/web/explode", headers=UI)
    assert unknown.status_code == 400  # not one of the buttons
    [entry] = audit(client, home, action="applications.action/argoproj.io/Rollout/promote-full")
    assert (entry["user"], entry["app"], entry["outcome"]) == ("viewer", "gone", "404")


def test_the_report_pages_answer_and_are_in_the_navigation(client: TestClient, home: Path) -> None:
    login(client, admin_token(home))
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
        assert " style=" not in answer.text  # the CSP forbids inline styles
        for other in PAGES:
            assert f'href="{other}"' in answer.text
    assert 'aria-current="page"' in client.get("/ui/dora").text
    bad = client.get("/ui/dora", params={"window": "soon"})
    assert bad.status_code == 400
    assert "soon" in bad.text
    assert client.get("/ui/compliance", params={"window": "soon"}).status_code == 400
    shown = client.get("/ui/audit", params={"user": "admin", "action": "session.login"})
    assert 'data-action="session.login"' in shown.text
    assert "/api/v1/audit?user=admin&amp;action=session.login&amp;format=csv" in shown.text
    nothing = client.get("/ui/audit", params={"app": "No Such App"})
    assert nothing.status_code == 200
    assert "Nothing in the audit log matches" in nothing.text
    csv = client.get("/api/v1/audit", params={"user": "admin", "format": "csv"})  # the cookie
    assert csv.status_code == 200
    assert "session.login" in csv.text


def test_a_read_only_token_sees_the_pages_its_role_reads(client: TestClient, home: Path) -> None:
    login(client, readonly_token(client, home, "reader"))
    page = client.get("/ui/dora")
    assert page.status_code == 200
    for path in PAGES:  # the built-in read-only role reads every resource
        assert f'href="{path}"' in page.text


def test_the_dora_charts_place_deployments_and_spans() -> None:
    from datetime import UTC, datetime

    end = datetime(2026, 12, 5, 12, tzinfo=UTC)
    start = datetime(2026, 11, 5, 12, tzinfo=UTC)
    entries: list[dict[str, Any]] = [
        {"revision": "a" * 40, "deployedAt": "2026-12-04T10:00:00.000Z", "failedAt": None,
         "restoredAt": None, "leadTimeSeconds": 3600.0},
        {"revision": "b" * 40, "deployedAt": "2026-12-04T11:00:00.000Z",
         "failedAt": "2026-12-04T11:00:30.000Z", "restoredAt": "2026-12-04T11:30:00.000Z",
         "leadTimeSeconds": None},
        {"revision": "c" * 40, "deployedAt": "2026-12-05T09:00:00.000Z", "failedAt": None,
         "restoredAt": None, "leadTimeSeconds": 60.0},
    ]  # fmt: skip
    chart = per_day(entries, start=start, end=end)
    counted = {b.start: b.count for b in chart.bars if b.count}
    assert counted == {"2026-12-04": 2, "2026-12-05": 1}
    assert len(chart.bars) == 31 and chart.peak == 2
    tallest = max(chart.bars, key=lambda b: b.height)
    assert (tallest.start, tallest.y, tallest.height) == ("2026-12-04", 0.0, chart.height)
    drawn = timeline(entries, end=end)
    assert drawn is not None
    one, two, three = drawn.rows
    assert one.lead is not None and two.lead is None and three.lead is not None
    assert one.lead.x + one.lead.width == pytest.approx(one.deployed_x, abs=0.02)
    assert two.failure is not None and two.restored
    assert two.deployed_x < two.failure.x < three.deployed_x
    assert one.deployed_x < two.deployed_x < three.deployed_x <= drawn.width
    assert one.lead.x >= drawn.label  # the earliest mark is inside the plot


def test_the_promotions_and_notifications_pages_show_their_records(
    client: TestClient, home: Path
) -> None:
    from datetime import UTC, datetime

    from conveyor.store.notifications import OutboxInput

    bearer = {"Authorization": f"Bearer {admin_token(home)}"}
    refused = {
        "pipeline": "promo", "app": "promo-prod", "from": "staging", "to": "prod",
        "image": "ghcr.io/acme/hello:abc1234", "tag": "abc1234", "promotedBy": "alice",
        "promotedAt": "2026-12-05T12:00:00+00:00", "outcome": "refused",
        "failedGates": ["soak"], "message": "staging served for 20s of 600s",
        "gates": [{"name": "soak", "held": False, "detail": "served 20s"}],
    }  # fmt: skip
    client.post("/api/v1/promotions", json=refused, headers=bearer).raise_for_status()
    service = client.app.state.context.notifications  # type: ignore[attr-defined]
    assert service is not None
    letter = OutboxInput(
        key="on-deployed:web:1", subject="app:web", trigger="on-deployed", service="webhook",
        recipient="ops", body={"templates": ["app-deployed"]}, app="web",
    )  # fmt: skip
    client.portal.call(  # type: ignore[union-attr]
        lambda: service.store.record(
            [letter], [], datetime.now(UTC), rejected={letter.key: "no service 'webhook'"}
        )
    )

    login(client, admin_token(home))
    promotions = client.get("/ui/promotions", params={"env": "prod"}).text
    assert 'data-app="promo-prod" data-outcome="refused"' in promotions
    assert '<span class="chip ci-failed" title="served 20s">soak</span>' in promotions
    assert "staging served for 20s of 600s" in promotions
    assert 'data-outcome="refused"' not in client.get("/ui/promotions?env=dev").text
    notifications = client.get("/ui/notifications").text
    dead = notifications.split('<section class="dead-letters">')[1].split("</section>")[0]
    assert 'data-status="dead" data-trigger="on-deployed" data-app="web"' in dead
    assert "no service &#39;webhook&#39;" in dead
    assert "Dead letters" in dead
    sent_only = client.get("/ui/notifications", params={"status": "sent"}).text
    assert "No notifications sent" in sent_only
    assert "dead-letters" in sent_only  # the dead letters stay on top whatever the filter
