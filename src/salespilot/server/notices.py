"""What a form that writes tells its user on the page it redirects to ("User added", or the
validation message naming the field).

The notice travels in the redirect's URL (``?notice=...``), signed with an HMAC keyed by the
session's CSRF token: only the server that saw this session's token could have written it, so
a link cannot put words in someone's page, and any worker of the server (``serve --workers``;
the token is a row of the store) can read it. It expires after ``TTL_SECONDS``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import time
from dataclasses import dataclass

TTL_SECONDS = 600


@dataclass(frozen=True)
class Notice:
    ok: bool
    text: str


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode("utf-8"), payload.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def encode(csrf: str | None, ok: bool, text: str) -> str:
    """The ``notice`` parameter for this session (signed with its CSRF token)."""
    body = json.dumps([ok, text, int(time.time())], ensure_ascii=False).encode("utf-8")
    payload = base64.urlsafe_b64encode(body).decode("ascii").rstrip("=")
    return f"{payload}.{_sign(csrf or '', payload)}"


def decode(csrf: str | None, value: str | None) -> Notice | None:
    """The notice of ``value`` when this session signed it and it is recent; else None."""
    if not value or not csrf or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(signature, _sign(csrf, payload)):
        return None
    try:
        ok, text, when = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(text, str) or not isinstance(when, int) or time.time() - when > TTL_SECONDS:
        return None
    return Notice(bool(ok), text)


def html_of(notice: Notice | None) -> str:
    if notice is None:
        return ""
    kind = "sp-ok" if notice.ok else "sp-error"
    return f'<p class="{kind}" role="status">{html.escape(notice.text)}</p>'
