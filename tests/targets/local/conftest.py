"""Fixtures of the Service proxy tests (defined with the stand-ins they start)."""

from support.proxy_helpers import make_proxy, make_tcp_server, make_upstream

__all__ = ["make_proxy", "make_tcp_server", "make_upstream"]
