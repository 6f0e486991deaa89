"""The CLI's connection to a Conveyor server: where it is, which token, and clear failures.

The server is ``--server`` / CONVEYOR_SERVER, else the one a local ``conveyor server`` wrote
to CONVEYOR_HOME/server.json, else http://127.0.0.1:8600. The token is ``--auth-token`` /
CONVEYOR_AUTH_TOKEN, else the admin token in CONVEYOR_HOME/admin.token. Every failure
becomes a ``CliError`` carrying a sentence for a person (the server's own message for 4xx
answers, with the manifest's problems), never a traceback.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import platformdirs

from conveyor.api.discovery import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    read_admin_token,
    read_server_info,
)
from conveyor.source.cache import CredentialLookup
from conveyor.store.repocreds import RepoCredentialStore

logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here

TIMEOUT = httpx.Timeout(30.0, read=120.0)
"""Reads may wait: ``GET ?refresh=`` answers once the refresh has run."""


class CliError(Exception):
    """A failure to report on stderr; ``code`` is the exit status."""

    def __init__(self, message: str, *, code: int = 1, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass
class GlobalOptions:
    """The root command's ``--server`` and ``--auth-token`` (set once per process)."""

    server: str | None = None
    auth_token: str | None = None


OPTIONS = GlobalOptions()


def _home() -> Path:
    env = os.environ.get("CONVEYOR_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("conveyor"))


def stored_credentials() -> CredentialLookup:
    """The repository credentials ``conveyor repo add`` stored in CONVEYOR_HOME, for the
    commands that push to a config repository from here (write-back, promotion)."""
    return RepoCredentialStore(_home()).lookup


def server_url() -> str:
    """The server to talk to (see the module's docstring for the order)."""
    url = OPTIONS.server or os.environ.get("CONVEYOR_SERVER")
    if not url:
        info = read_server_info(_home())
        url = info.url if info is not None else f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    if "://" not in url:
        url = f"http://{url}"
    return url.rstrip("/")


def auth_token() -> str | None:
    return OPTIONS.auth_token or os.environ.get("CONVEYOR_AUTH_TOKEN") or read_admin_token(_home())


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("error") or body)
        problems = body.get("problems") or []
        if problems and not message.count("\n"):
            message += "".join(f"\n  - {p}" for p in problems)
        return message
    return str(body)


class Client:
    """A thin synchronous client of the REST API."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = url or server_url()
        token = token or auth_token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send a request; the decoded JSON answer, or a CliError."""
        try:
            response = self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.ConnectError as err:
            raise self._unreachable() from err
        except httpx.HTTPError as err:
            raise CliError(f"talking to {self.url} failed: {err}") from err
        self._check(response)
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=_clean(params))

    def get_text(self, path: str, **params: Any) -> str:
        """A GET whose answer is text (CSV, JSON lines), returned as it came."""
        try:
            response = self._http.request("GET", path, params=_clean(params))
        except httpx.ConnectError as err:
            raise self._unreachable() from err
        except httpx.HTTPError as err:
            raise CliError(f"talking to {self.url} failed: {err}") from err
        self._check(response)
        return response.text

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("POST", path, json=body, params=_clean(params))

    @contextmanager
    def stream_lines(self, path: str, **params: Any) -> Iterator[Iterator[str]]:
        """The lines of a streamed text answer (logs), as they arrive."""
        try:
            with self._http.stream(
                "GET", path, params=_clean(params), timeout=httpx.Timeout(30.0, read=None)
            ) as response:
                if response.is_error:
                    response.read()
                self._check(response)
                yield response.iter_lines()
        except httpx.ConnectError as err:
            raise self._unreachable() from err
        except httpx.HTTPError as err:
            raise CliError(f"talking to {self.url} failed: {err}") from err

    def _unreachable(self) -> CliError:
        return CliError(f"no Conveyor server at {self.url}: start one with `conveyor server`")

    def _check(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        message = _message(response)
        if response.status_code == 401:
            message += (
                " (pass --auth-token or set CONVEYOR_AUTH_TOKEN; a local server's admin "
                "token is in CONVEYOR_HOME/admin.token)"
            )
        raise CliError(message, status=response.status_code)


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    """Drop unset parameters; booleans as Argo CD's API spells them."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = str(value).lower() if isinstance(value, bool) else value
    return out
