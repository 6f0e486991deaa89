"""No credentials of a repoURL in any answer: every JSON body the API sends is masked here.

A repoURL may carry ``user:password@`` (Argo CD allows it; stored repository credentials are
the better way). The engine keeps the URL as given, since git needs it; everything that leaves
the server goes through ``conveyor.redaction.mask_credentials``: JSON answers
(``MaskedJSONResponse``, the app's default response class), error answers, the event stream
and metrics labels. A manifest read back and sent again (``app edit``, a PUT) carries the
masked URL; ``restore_credentials`` puts the stored one back when nothing else changed in it.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from conveyor.redaction import MASK, mask_credentials


def mask_document(doc: Any) -> Any:
    """``doc`` with the credentials of every URL in every string (and key) masked."""
    if isinstance(doc, str):
        return mask_credentials(doc) if "@" in doc else doc
    if isinstance(doc, dict):
        return {mask_document(k): mask_document(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [mask_document(v) for v in doc]
    return doc


class MaskedJSONResponse(JSONResponse):
    """JSONResponse whose content has URL credentials masked."""

    def render(self, content: Any) -> bytes:
        return super().render(mask_document(content))


def _sources(spec: dict[str, Any]) -> list[dict[str, Any]]:
    found = [spec["source"]] if isinstance(spec.get("source"), dict) else []
    found += [s for s in spec.get("sources") or [] if isinstance(s, dict)]
    return found


def restore_credentials(manifest: dict[str, Any], stored: dict[str, Any] | None) -> None:
    """Put ``stored``'s repoURL back where ``manifest`` holds the masked form of it."""
    if stored is None:
        return
    new = _sources(manifest.get("spec") or {}) if isinstance(manifest.get("spec"), dict) else []
    old = _sources(stored.get("spec") or {})
    for mine, theirs in zip(new, old, strict=False):
        url, kept = mine.get("repoURL"), theirs.get("repoURL")
        if (
            isinstance(url, str)
            and isinstance(kept, str)
            and MASK in url
            and url == mask_credentials(kept)
        ):
            mine["repoURL"] = kept
