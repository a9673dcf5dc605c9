"""``/healthz``, ``/readyz`` and ``/metrics`` (docs/http.md#metrics): no key needed, the
metrics parsed by prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from rig.http import grid_csv
from rig.mail import rate_message

from ingestd.service import messages

from .test_api import deck, upload


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_health_and_readiness(api):
    with api.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok"}}


def test_not_ready_when_the_schema_is_behind(api):
    with api.app.store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0007'")
    with api.client() as c:
        ready = c.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["schema"] == "at 0007, needs 0009"


def test_metrics_count_what_happened(api):
    with api.client() as c:
        before = samples(c.get("/metrics").text)
    messages.import_message(api.app, rate_message([("rates.csv", grid_csv(deck()))]))
    with api.client("acme-upload") as c:
        assert upload(c, grid_csv(deck())).status_code == 201
    with api.client() as c:
        c.get("/api/v1/tables")  # 401
        scrape = c.get("/metrics")
    assert scrape.headers["content-type"].startswith("text/plain")
    after = samples(scrape.text)

    def grew(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("ingestd_http_requests_total", status="4xx") >= 1
    assert grew("ingestd_http_requests_total", status="2xx") >= 2
    # the upload, and the message's one sheet: held with the message (unsigned), not imported
    assert grew("ingestd_imports_total", status="imported") == 1
    assert grew("ingestd_import_duration_seconds_count") == 1
    assert grew("ingestd_rows_written_total", kind="voice") == 3
    assert grew("ingestd_messages_total", outcome="quarantined") == 1
    assert grew("ingestd_dkim_results_total", status="fail", reason="unsigned") == 1
    assert after[("ingestd_messages_by_state", (("state", "quarantined"),))] == 1
    assert sum(v for (n, _), v in after.items() if n == "ingestd_quarantine_held") == 1
