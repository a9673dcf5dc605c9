"""JSON answers: what the service returns as ``as_dict()`` is plain data, except the odd
decimal or instant a report carries; those are written as text, as the command line's
``--json`` writes them."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


def document(
    body: Any,
    status: int = 200,
    *,
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    text = json.dumps(body, ensure_ascii=False, default=str)
    return Response(text, status, media_type=media_type, headers=headers)
