"""``/healthz`` (the process answers), ``/readyz`` (it can do its work: the database answers at
the schema this code needs, the inbound queue is there) and ``/metrics`` (docs/http.md#metrics).
None of them needs a key: they say nothing about rates, and monitoring reaches them as it
reaches any service."""

from __future__ import annotations

import logging
import os
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from ingestd import metrics
from ingestd.db.engine import SCHEMA_REVISION
from ingestd.intake.queue import InboundQueue
from ingestd.logs import kv
from ingestd.service import messages
from ingestd.service.app import App
from ingestd.web.access import application
from ingestd.web.documents import document

log = logging.getLogger("ingestd.http")

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process answers")
def healthz() -> Response:
    return document({"status": "ok"})


@router.get("/readyz", summary="The daemon can do its work")
def readyz(request: Request, app: Annotated[App, Depends(application)]) -> Response:
    checks: dict[str, str] = {}
    try:
        stamped = app.store.stamped_revision()
        checks["database"] = "ok"
        checks["schema"] = (
            "ok" if stamped == SCHEMA_REVISION else f"at {stamped}, needs {SCHEMA_REVISION}"
        )
    except Exception as e:  # unreachable: say so, the log has the details
        log.warning(kv("http.readyz", database="unreachable", error=str(e)[:200]))
        checks["database"] = "unreachable"
    queue = request.app.state.queue
    if queue is not None:
        root = queue.root
        checks["queue"] = "ok" if os.access(root, os.W_OK) else f"{root} is not writable"
    ready = all(v == "ok" for v in checks.values())
    return document({"status": "ready" if ready else "not ready", "checks": checks},
                    200 if ready else 503)  # fmt: skip


@router.get("/metrics", summary="Prometheus metrics")
def prometheus(request: Request, app: Annotated[App, Depends(application)]) -> Response:
    text = generate_latest(metrics.REGISTRY)
    queue = request.app.state.queue
    try:
        counts = messages.counts(app)
    except Exception as e:  # the counters still answer while the database is away
        log.warning(kv("http.metrics", database="unreachable", error=str(e)[:200]))
    else:
        queued = InboundQueue.depths(queue.root) if queue is not None else None
        text += generate_latest(metrics.depths(counts, queued))
    return Response(text, media_type=CONTENT_TYPE_LATEST)
