"""The one YAML loader for text from outside: JSON types, and budgets on aliases and size."""

from __future__ import annotations

import pytest

from conveyor.model import yamldocs
from conveyor.model.yamldocs import YamlError, load_stream, split_documents


def alias_bomb(levels: int = 7) -> str:
    """'billion laughs': each level is ten aliases of the previous, 10**levels values in all."""
    lines = ['a0: &a0 ["lol"]']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "\n".join(
        "  " + line for line in lines
    )


GOOD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good}\n"


def test_an_alias_bomb_is_refused_with_its_document_and_the_others_load() -> None:
    docs = split_documents(GOOD + "---\n" + alias_bomb() + "\n---\n" + GOOD)
    assert [d.error is None for d in docs] == [True, False, True]
    assert docs[1].error and "expands to more than 1,000,000 values" in docs[1].error
    assert docs[2].data["metadata"]["name"] == "good"


def test_a_stream_with_an_alias_bomb_stops_there() -> None:
    stream = load_stream(GOOD + "---\n" + alias_bomb())
    assert next(stream)["metadata"]["name"] == "good"
    with pytest.raises(YamlError, match="expands to more than"):
        next(stream)


def test_aliases_become_independent_copies_in_both_readers() -> None:
    text = GOOD + "data: &d {k: v}\nbinaryData: *d\n"
    [raw] = split_documents(text)
    [streamed] = list(load_stream(text))
    for doc in (raw.data, streamed):
        assert doc["data"] == doc["binaryData"] and doc["data"] is not doc["binaryData"]


def test_values_are_json_types() -> None:
    text = "when: 2024-05-01\n2: two\ntrue: yes\nbin: !!binary aGVs\n  bG8=\nset: !!set {a, b}\n"
    [raw] = split_documents(text)
    assert raw.data == {
        "when": "2024-05-01", "2": "two", "true": True, "bin": "aGVsbG8=",
        "set": {"a": None, "b": None},
    }  # fmt: skip
    assert list(load_stream(text)) == [raw.data]


def test_too_long_a_text_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamldocs, "MAX_STREAM_CHARS", 100)
    with pytest.raises(YamlError, match="longer than"):
        split_documents(GOOD * 10)
    with pytest.raises(YamlError, match="longer than"):
        list(load_stream(GOOD * 10))
