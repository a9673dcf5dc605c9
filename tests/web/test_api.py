"""The OpenTWPS API through the real server (uvicorn on a free port) with httpx
(docs/http.md): keys and scopes, uploads of every format, the read endpoints, errors as
problem+json."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import date, datetime, timedelta

import openpyxl
import pytest
from rig.http import FORMATS, grid_csv

from ingestd.service import apikeys, tables

PROBLEM = "application/problem+json"
# recent enough for the stale-deck guard, past for the notice periods
EFFECTIVE = date.today() - timedelta(days=10)
TOMORROW = date.today() + timedelta(days=1)


def deck(n: int = 3, price: str = "0.0100", first: int = 4420) -> list[list[str]]:
    return [["Destination", "Prefix", "Rate", "Effective Date"]] + [
        [f"Dest {first + i}", str(first + i), price, EFFECTIVE.isoformat()] for i in range(n)
    ]


def upload(client, data: bytes, name: str = "rates.csv", **fields):
    return client.post("/api/v1/decks", files={"file": (name, data)}, data=fields)


def assert_problem(answer, status: int, kind: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + kind), body
    assert body["detail"]
    return body


# --- keys and scopes ------------------------------------------------------------------------


def test_no_key_or_an_unknown_one_is_401_with_a_challenge(api):
    with api.client() as c:
        answer = c.get("/api/v1/tables")
        assert_problem(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"].startswith("Bearer")
        c.headers["Authorization"] = "Bearer ingestd_notakey"
        assert_problem(c.get("/api/v1/tables"), 401, "unauthorized")
        c.headers["Authorization"] = "Basic dXNlcjpwYXNz"
        assert_problem(c.get("/api/v1/tables"), 401, "unauthorized")


def test_each_scope_may_do_what_it_says_and_no_more(api):
    data = grid_csv(deck())
    with api.client("reader") as c:
        assert c.get("/api/v1/tables").status_code == 200
        assert_problem(upload(c, data, vendor="acme"), 403, "forbidden")
    with api.client("acme-upload") as c:
        assert_problem(c.get("/api/v1/tables"), 403, "forbidden")
        assert_problem(upload(c, data, vendor="other"), 403, "forbidden")
        assert upload(c, data).status_code == 201  # its own vendor without naming it
    with api.client("admin") as c:
        assert c.get("/api/v1/tables").json()["tables"][0]["vendor"] == "acme"
        assert_problem(upload(c, data), 422, "invalid_request")  # an admin names the vendor
        assert upload(c, grid_csv(deck(first=3310)), vendor="beta").status_code == 201
        assert c.post("/api/v1/quarantine/1/drop").status_code == 404  # allowed, nothing held
    with api.client("reader") as c:
        assert_problem(c.post("/api/v1/quarantine/1/drop"), 403, "forbidden")


def test_a_revoked_key_stops_working_at_once(api):
    with api.client("reader") as c:
        assert c.get("/api/v1/tables").status_code == 200
        apikeys.revoke(api.app, "reader")
        assert_problem(c.get("/api/v1/tables"), 401, "unauthorized")


def test_only_the_hash_of_a_token_is_stored(api):
    import sqlalchemy as sa

    from ingestd.db.tables import api_keys

    with api.app.store.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(sa.select(api_keys)) for v in row)
    for token in api.tokens.values():
        assert token not in stored
        assert apikeys.token_hash(token) in stored


# --- uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_an_upload_of_every_format_is_imported_as_mail_would_import_it(api, fmt):
    data = FORMATS[fmt](deck(4))
    with api.client("acme-upload") as c:
        answer = upload(c, data, name=f"acme-rates.{fmt}")
    assert answer.status_code == 201, answer.text
    (summary,) = answer.json()["decks"]
    assert summary["status"] == "imported"
    assert (summary["vendor"], summary["table"], summary["version"]) == ("acme", "default", 1)
    assert summary["authentication"] == {"method": "api_key", "key": "acme-upload",
                                         "scope": "upload"}  # fmt: skip
    found = tables.versions(api.app, "acme")
    assert found.versions[0].as_dict()["sender"] == "api key acme-upload"
    rows = tables.rows(api.app, "acme").frame
    assert rows["code"].to_list() == ["4420", "4421", "4422", "4423"]


def test_the_same_deck_twice_is_a_duplicate_and_writes_nothing(api):
    data = grid_csv(deck())
    with api.client("acme-upload") as c:
        first = upload(c, data)
        again = upload(c, data)
    assert first.status_code == 201
    assert again.status_code == 200
    (summary,) = again.json()["decks"]
    assert summary["status"] == "duplicate"
    assert summary["duplicate_of"] == 1
    assert len(tables.versions(api.app, "acme").versions) == 1


def test_a_dry_run_says_what_would_change_and_writes_nothing(api):
    with api.client("acme-upload") as c:
        answer = upload(c, grid_csv(deck()), dry_run="true")
    assert answer.status_code == 200
    assert answer.json()["decks"][0]["status"] == "dry_run"
    assert tables.tables(api.app) == []


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("rates.xlsx", b"PK\x03\x04 this is no workbook", "unknown_format"),
        ("rates.csv", b"just,some\nwords,here\n", "no_table"),
        ("rates.pdf", b"%PDF-1.4 a rate card", "unknown_format"),
    ],
)
def test_a_broken_deck_is_refused_as_a_problem_with_the_reason(api, name, data, reason):
    with api.client("acme-upload") as c:
        answer = upload(c, data, name=name)
    body = assert_problem(answer, 422, reason)
    assert body["reason"] == body["decks"][0]["reason"] == reason
    assert body["decks"][0]["status"] == "refused"
    assert tables.tables(api.app) == []


def test_malformed_uploads_are_problems_not_crashes(api):
    with api.client("acme-upload") as c:
        no_file = c.post("/api/v1/decks", data={"vendor": "acme"})
        assert_problem(no_file, 422, "invalid_request")
        broken = c.post(
            "/api/v1/decks",
            content=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        )
        assert broken.status_code in (400, 422), broken.text
        assert broken.headers["content-type"].startswith(PROBLEM)
        not_multipart = c.post("/api/v1/decks", content=b"Destination,Prefix\n",
                               headers={"Content-Type": "text/csv"})  # fmt: skip
        assert_problem(not_multipart, 422, "invalid_request")
        bad_vendor = upload(c, grid_csv(deck()), vendor="../etc")
        assert bad_vendor.status_code == 403  # not its vendor, whatever the name


# --- reading --------------------------------------------------------------------------------


@pytest.fixture
def imported(api):
    """acme/voice/default: version 1 with 25 codes, version 2 with one more and the price of
    4422 lowered from TOMORROW (so version 2 has 27 rows, 4422's two)."""
    with api.client("acme-upload") as c:
        assert upload(c, grid_csv(deck(25)), name="v1.csv").status_code == 201
        second = deck(26)
        second[3][2:4] = ["0.0050", TOMORROW.isoformat()]
        assert upload(c, grid_csv(second), name="v2.csv", mode="full").status_code == 201
    return api


def test_tables_and_versions(imported):
    with imported.client("reader") as c:
        (table,) = c.get("/api/v1/tables").json()["tables"]
        assert table["link"] == "/api/v1/tables/acme/voice/default"
        versions = c.get(table["link"]).json()["versions"]
        assert [v["version"] for v in versions] == [1, 2]
        one = c.get(table["link"] + "/versions/2").json()
        assert one["version"]["file_name"] == "v2.csv"
        assert_problem(c.get(table["link"] + "/versions/9"), 404, "no_version")


def test_rows_in_json_pages_add_up_to_the_csv_and_the_xlsx(imported):
    link = "/api/v1/tables/acme/voice/default/rows"
    with imported.client("reader") as c:
        rows, cursor, pages = [], None, 0
        while True:
            page = c.get(link, params={"limit": 10, **({"cursor": cursor} if cursor else {})})
            assert page.status_code == 200, page.text
            body = page.json()
            assert body["version"] == 2 and body["total"] == 27
            rows += body["rows"]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        text = c.get(link, params={"format": "csv"})
        book = c.get(link, params={"format": "xlsx"})
    assert text.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(text.text)))
    assert len(rows) == len(table) == 27
    # the OpenTWPS columns, in snake_case
    assert list(rows[0]) == ["prefix_e164", "price1", "price_n", "valid_from", "timezone",
                             "interval_1", "interval_n", "forbidden", "discontinued"]  # fmt: skip
    assert list(table[0]) == ["Prefix E164", "Price1", "Price N", "Valid From", "Timezone",
                              "Interval 1", "Interval N", "Forbidden", "Discontinued"]  # fmt: skip
    assert [r["prefix_e164"] for r in rows] == [r["Prefix E164"] for r in table]
    assert [r["price1"] for r in rows] == [r["Price1"] for r in table]
    assert [r["price1"] for r in rows[2:5]] == ["0.01", "0.005", "0.01"]  # 4422 now, then
    assert rows[3]["valid_from"] == f"{TOMORROW} 00:00:00" and rows[4]["prefix_e164"] == "4423"
    assert rows[0]["interval_1"] == 1 and rows[0]["forbidden"] is False
    sheet = openpyxl.load_workbook(io.BytesIO(book.content)).active
    assert sheet.max_row == 28  # the header and 27 rows
    # the version's own export through the service is byte for byte the streamed CSV
    assert text.content == tables.export(imported.app, "acme", fmt="csv")
    with imported.client("reader") as c:
        old = c.get(link, params={"format": "csv", "version": 1, "at": "2099-01-01"})
        empty = c.get(link, params={"format": "csv", "at": "2000-01-01"})
    moment = datetime(2099, 1, 1)
    assert old.content == tables.export(imported.app, "acme", fmt="csv", version=1, at=moment)
    assert old.text.count("\r\n") == 26  # the header and version 1's 25 codes
    assert empty.text.startswith("Prefix E164,") and empty.text.count("\r\n") == 1


def test_a_cursor_pins_its_version_while_new_versions_arrive(imported):
    link = "/api/v1/tables/acme/voice/default/rows"
    with imported.client("reader") as c:
        first = c.get(link, params={"limit": 20}).json()
        with imported.client("acme-upload") as up:
            assert upload(up, grid_csv(deck(30)), name="v3.csv", mode="full").status_code == 201
        rest = c.get(link, params={"cursor": first["next_cursor"]}).json()
    assert rest["version"] == 2 and len(first["rows"]) + len(rest["rows"]) == 27


def test_rows_at_an_instant_and_of_an_older_version(imported):
    link = "/api/v1/tables/acme/voice/default/rows"
    with imported.client("reader") as c:
        old = c.get(link, params={"version": 1}).json()
        assert old["total"] == 25
        # rates dated in the past take effect when the deck was received (now)
        before = c.get(link, params={"at": f"{EFFECTIVE}T00:00:00Z"}).json()
        assert before["rows"] == [] and before["total"] is None and before["next_cursor"] is None
        later = TOMORROW + timedelta(days=1)
        after = c.get(link, params={"at": f"{later}T01:00:00+02:00"}).json()
        assert len(after["rows"]) == 26 and after["at"] == f"{later - timedelta(days=1)} 23:00:00"
        first = c.get(link, params={"at": f"{later}T00:00:00Z", "limit": 20}).json()
        rest = c.get(link, params={"cursor": first["next_cursor"]}).json()
        assert len(first["rows"]) + len(rest["rows"]) == 26 and rest["next_cursor"] is None
        assert rest["at"] == first["at"]  # the cursor keeps the instant
        assert_problem(c.get(link, params={"at": "yesterday"}), 422, "invalid_request")
        assert_problem(c.get(link, params={"cursor": "bm90IGEgY3Vyc29y"}), 422, "invalid_cursor")
        assert_problem(c.get(link, params={"format": "pdf"}), 422, "invalid_request")
        assert_problem(c.get(link, params={"limit": 10_001}), 422, "invalid_request")


def test_diff_of_two_versions(imported):
    with imported.client("reader") as c:
        answer = c.get("/api/v1/tables/acme/voice/default/diff", params={"from": 1, "to": 2})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    text = json.dumps(body)
    assert "4422" in text and "4445" in text  # the lowered price and the new code
    assert "4424" not in text
    # the lowered price is a new dated row of 4422 (its current one stays until tomorrow)
    added = {(r["code"], r["change_class"]) for r in body["added"]}
    assert added == {("4422", "decrease"), ("4445", "new")}, body
    assert body["removed"] == []


def test_lookup_in_one_vendor_and_ranked_across_vendors(imported):
    with imported.client("admin") as c:
        cheaper = [["Destination", "Prefix", "Rate", "Effective Date"],
                   ["UK", "44", "0.0050", EFFECTIVE.isoformat()]]  # fmt: skip
        assert upload(c, grid_csv(cheaper), vendor="beta").status_code == 201
        one = c.get(
            "/api/v1/lookup",
            params={"number": "+4422999", "vendor": "acme", "at": f"{TOMORROW}T01:00"},
        ).json()
        assert one["match"]["code"] == "4422" and one["match"]["price1"] == "0.005"
        every = c.get("/api/v1/lookup", params={"number": "4423999"}).json()
        assert [m["table"]["vendor"] for m in every["matches"]] == ["beta", "acme"]
        nothing = c.get("/api/v1/lookup", params={"number": "1999", "vendor": "acme"}).json()
        assert nothing["match"] is None
        assert_problem(c.get("/api/v1/lookup", params={"number": "1", "kind": "fax"}), 422,
                       "invalid_request")  # fmt: skip


PATH_TRICKS = [
    "/api/v1/tables/acme/voice/nope",
    "/api/v1/tables/ACME/voice/default",
    "/api/v1/tables/acme/fax/default",
    "/api/v1/tables/acme/voice/..%2F..%2Fetc%2Fpasswd",
    "/api/v1/tables/acme/voice/%2e%2e",
    "/api/v1/tables/acme/voice/" + "a" * 300,
    "/api/v1/tables/acme/voice/default%00",
    "/api/v1/tables/acme/voice/default/../../../../etc/passwd",
]


def test_path_tricks_in_table_names_find_nothing(imported):
    with imported.client("reader") as c:
        for path in PATH_TRICKS:
            answer = c.get(path)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.headers["content-type"].startswith(PROBLEM), path
        assert c.get("/api/v1/tables/acme/voice/default").status_code == 200


def test_openapi_document_and_docs(api):
    with api.client() as c:
        spec = c.get("/api/openapi.json").json()
        docs = c.get("/api/docs")
    assert (
        "/api/v1/decks" in spec["paths"]
        and "/api/v1/tables/{vendor}/{kind}/{name}/rows" in (spec["paths"])
    )
    assert docs.status_code == 200 and "openapi.json" in docs.text


def test_an_upload_that_takes_long_is_202_with_a_link_to_its_answer(tmp_path, sqlite_url):
    from .conftest import serve

    http = 'listen = "127.0.0.1:0"\nrate_limit = 0\nmax_body_size = "8MB"\nupload_wait = "1ms"'
    served = serve(tmp_path, sqlite_url, http)
    api = next(served)
    try:
        with api.client("acme-upload") as c:
            accepted = upload(c, grid_csv(deck(20_000)), name="big.csv")
            assert accepted.status_code == 202, accepted.text
            link = accepted.json()["link"]
            assert accepted.headers["location"] == link and link.startswith("/api/v1/uploads/upl_")
            with api.client("reader") as other:
                assert other.get(link).status_code == 403  # a read key cannot upload
            api.key("beta-upload", "upload", vendor="beta")
            with api.client("beta-upload") as other:
                assert_problem(other.get(link), 404, "no_upload")  # not its upload
            for _ in range(600):
                done = c.get(link)
                if done.status_code != 202:
                    break
                time.sleep(0.1)
            assert done.status_code == 201, done.text
            assert done.json()["decks"][0]["version"] == 1
            assert_problem(c.get("/api/v1/uploads/upl_nothing"), 404, "no_upload")
        with api.client("admin") as c:
            assert c.get(link).status_code == 201  # an admin may ask too
    finally:
        served.close()
