"""The HTTP API (FastAPI): REST, auth, webhooks and the web UI."""
