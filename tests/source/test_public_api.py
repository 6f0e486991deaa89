"""The package's public face: one ``__init__`` with a sorted ``__all__`` that resolves."""

from __future__ import annotations

import conveyor.source as source


def test_all_is_sorted_and_importable() -> None:
    assert source.__all__ == sorted(source.__all__)
    for name in source.__all__:
        assert getattr(source, name) is not None
