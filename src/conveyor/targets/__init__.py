"""Targets: where live objects are. One protocol, two implementations (local, Kubernetes)."""
