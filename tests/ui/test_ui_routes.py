"""Every UI route is in the access table (else it would be the admin's only), and every UI
entry of the table names a route that exists: a page is never open by accident."""

from __future__ import annotations

from fastapi.routing import APIRoute

from conveyor.api.access import ROUTES
from conveyor.api.ui import ROUTERS

PUBLIC = {
    ("GET", "/"),
    ("GET", "/ui"),
    ("GET", "/ui/"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("POST", "/ui/logout"),
}
"""Sign in and out, and the redirects to the applications page."""


def test_every_ui_route_is_in_the_access_table() -> None:
    served = {
        (method, route.path)
        for module in ROUTERS
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    known = set(ROUTES)
    assert served - PUBLIC <= known, sorted(served - PUBLIC - known)
    listed = {key for key in ROUTES if key[1].startswith("/ui")}
    assert listed <= served, sorted(listed - served)
    assert served >= PUBLIC
