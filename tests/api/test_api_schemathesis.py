"""Schemathesis against the live server's OpenAPI spec: no input makes it answer 5xx.

Every operation but the SSE streams (which never end by design) gets generated requests,
with the admin token, and each answer must be no server error and conform to the spec
(declared status codes and content types). Examples are bounded so that the run stays short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from api_helpers import Live
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from conveyor.api.app import create_app
from conveyor.settings import Settings

pytestmark = pytest.mark.slow


def _spec() -> dict[str, Any]:
    """The spec the server serves (checked below), built without starting anything."""
    settings = Settings(home=Path("/nonexistent"), database_url="sqlite+aiosqlite:////unused")
    return create_app(settings).openapi()


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC).exclude(path_regex="^/api/v1/stream/|/info/watch$")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    unsupported_method,
    allow_header_conformance,
]
"""Schemathesis's data-acceptance checks are left out on purpose: manifest bodies are plain
JSON objects in the spec (``conveyor.model`` validates them, naming each bad field), so a
schema-valid ``{}`` is rightly a 400."""


def test_the_server_serves_this_spec(live: Live) -> None:
    assert httpx.get(f"{live.url}/openapi.json").json() == SPEC


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case: Any, live: Live) -> None:
    response = case.call(
        base_url=live.url, headers={"Authorization": f"Bearer {live.token}"}, timeout=30
    )
    if response.status_code == 400 and response.text == UVICORN_REFUSAL:
        return  # refused by the HTTP server's parser: it never reached Conveyor's API
    case.validate_response(response, checks=CHECKS)


UVICORN_REFUSAL = "Invalid HTTP request received."
"""uvicorn's own plain-text 400 for a request line its parser (llhttp) refuses, such as a
generated query string with bytes HTTP does not allow; no OpenAPI document can declare it."""
