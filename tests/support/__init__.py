"""Fixtures' helpers shared by several test packages."""
