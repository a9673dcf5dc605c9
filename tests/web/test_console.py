"""The web console over real HTTP (docs/console.md): logging in and the session cookie, CSRF
tokens, roles, the login throttle, the audit log, and the pages a rates analyst reads (the
import report, the diff filtered, searched, paged and downloaded). The browser itself drives
the console in tests/system/test_console_browser.py."""

from __future__ import annotations

import csv
import io

import pytest
from rig.console import PASSWORD, ConsoleSite, csrf_of

from ingestd.service import audit, messages, outbox, tables, webhooks


@pytest.fixture
def site(tmp_path, sqlite_url):
    with ConsoleSite(tmp_path, sqlite_url) as site:
        yield site


def test_every_page_asks_for_a_login_first_and_comes_back_after_it(site):
    with site.client() as c:
        for path in (
            "/ui/",
            "/ui/vendors",
            "/ui/quarantine",
            "/ui/lookup?number=49",
            "/ui/outbox",
            "/ui/webhooks",
            "/ui/audit",
        ):
            answer = c.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/ui/login?next=/ui/"), path
        assert c.get("/").headers["location"] == "/ui/"
        form = c.get("/ui/login?next=/ui/vendors")
        assert 'value="/ui/vendors"' in form.text
        answer = c.post(
            "/ui/login",
            data={
                "name": "vera",
                "password": PASSWORD,
                "csrf": csrf_of(form.text),
                "next": "/ui/vendors",
            },
        )
        assert (answer.status_code, answer.headers["location"]) == (303, "/ui/vendors")
        assert "Vendors" in c.get("/ui/vendors").text


def test_a_login_never_leads_to_another_site(site):
    for target in ("https://evil.example/", "//evil.example/ui", "/api/v1/tables"):
        with site.client() as c:
            form = c.get("/ui/login")
            answer = c.post(
                "/ui/login",
                data={
                    "name": "vera",
                    "password": PASSWORD,
                    "csrf": csrf_of(form.text),
                    "next": target,
                },
            )
            assert answer.headers["location"] == "/ui/", target


def test_the_session_cookie_is_signed_httponly_and_samesite(site):
    with site.login("vera") as c:
        (cookie,) = [h for h in c.cookies.jar if h.name == "ingestd_session"]
        header = next(v for k, v in c.get("/ui/login").request.headers.items() if k == "cookie")
        assert "ingestd_session=" in header
    with site.client() as c:
        form = c.get("/ui/login")
        answer = c.post(
            "/ui/login", data={"name": "vera", "password": PASSWORD, "csrf": csrf_of(form.text)}
        )
        set_cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie
        assert "path=/ui" in set_cookie
        # a cookie whose signature is not the server's is no session
        c.cookies.set("ingestd_session", cookie.value[:-2] + "xx", path="/ui")
        assert c.get("/ui/").status_code == 303


def test_a_wrong_password_is_refused_and_the_throttle_stops_guessing(site):
    with site.client() as c:
        for _ in range(5):
            form = c.get("/ui/login")
            answer = c.post(
                "/ui/login", data={"name": "olga", "password": "guess", "csrf": csrf_of(form.text)}
            )
            assert answer.status_code == 401
            assert "The name or the password is wrong." in answer.text
            assert "ingestd_session" not in answer.headers.get("set-cookie", "")
        form = c.get("/ui/login")
        answer = c.post(
            "/ui/login", data={"name": "olga", "password": PASSWORD, "csrf": csrf_of(form.text)}
        )
        assert answer.status_code == 429 and "Too many failed logins" in answer.text
    # another person is not locked out by olga's guesser
    with site.login("vera") as c:
        assert c.get("/ui/").status_code == 200


def test_the_login_form_needs_its_own_token(site):
    with site.client() as c:
        c.get("/ui/login")
        answer = c.post("/ui/login", data={"name": "vera", "password": PASSWORD})
        assert answer.status_code == 403 and "security token" in answer.text


def test_logging_out_ends_the_session_for_every_copy_of_its_cookie(site):
    with site.login("olga") as c:
        copy = dict(c.cookies)
        page = c.get("/ui/")
        assert c.post("/ui/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    with site.client() as thief:
        thief.cookies.update(copy)
        assert thief.get("/ui/").status_code == 303  # to the login page


def test_a_planted_cookie_does_not_become_the_next_login(site):
    """Session fixation: a viewer's cookie planted in an operator's browser is replaced by a
    new session at the operator's login, and the planted one stays a viewer's."""
    with site.login("vera") as attacker:
        planted = attacker.cookies["ingestd_session"]
        with site.client() as victim:
            form = victim.get("/ui/login")
            victim.cookies.set("ingestd_session", planted, domain="127.0.0.1", path="/ui")
            answer = victim.post(
                "/ui/login", data={"name": "olga", "password": PASSWORD, "csrf": csrf_of(form.text)}
            )
            assert answer.status_code == 303
            fresh = answer.cookies["ingestd_session"]
            assert fresh != planted
            victim.cookies.clear()
            victim.cookies.set("ingestd_session", fresh, domain="127.0.0.1", path="/ui")
            assert "olga" in victim.get("/ui/").text
        assert "vera" in attacker.get("/ui/").text
        held = site.held_deck()
        page = attacker.get(f"/ui/quarantine/{held}")
        assert "Release" not in page.text.split("<h2>Sheets</h2>")[1]
        refused = attacker.post(f"/ui/quarantine/{held}/release", data={"csrf": csrf_of(page.text)})
        assert refused.status_code == 403


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(site):
    held = site.held_deck()
    with site.login("olga") as c:
        page = c.get(f"/ui/quarantine/{held}")
        for data in ({}, {"csrf": "forged"}, {"csrf": csrf_of(page.text) + "x"}):
            answer = c.post(f"/ui/quarantine/{held}/drop", data={**data, "note": "x"})
            assert answer.status_code == 403 and "security token" in answer.text
    assert messages.held_message(site.app, held).state == "held"
    # another person's token does not pass either
    with site.login("adam") as other:
        token = csrf_of(other.get("/ui/").text)
    with site.login("olga") as c:
        answer = c.post(f"/ui/quarantine/{held}/drop", data={"csrf": token})
        assert answer.status_code == 403
    assert messages.held_message(site.app, held).state == "held"
    assert audit.entries(site.app) == []


def test_a_viewer_reads_but_cannot_release_drop_or_retry(site):
    held = site.held_deck()
    with site.login("vera") as c:
        page = c.get(f"/ui/quarantine/{held}")
        assert page.status_code == 200 and "Rnd" in page.text
        assert "may read the quarantine" in page.text
        token = csrf_of(page.text)
        for path in (
            f"/ui/quarantine/{held}/release",
            f"/ui/quarantine/{held}/drop",
            "/ui/outbox/1/retry",
            "/ui/webhooks/1/retry",
        ):
            answer = c.post(path, data={"csrf": token})
            assert answer.status_code == 403, path
            assert "needs the role operator" in answer.text
    assert messages.held_message(site.app, held).state == "held"


def test_an_operator_releases_with_a_column_answer_and_the_audit_log_says_so(site):
    held = site.held_deck()
    with site.login("olga") as c:
        page = c.get(f"/ui/quarantine/{held}")
        assert 'name="map:Rnd"' in page.text and "(in doubt)" in page.text
        answer = c.post(
            f"/ui/quarantine/{held}/release",
            data={
                "csrf": csrf_of(page.text),
                "map:Rnd": "pulse",
                "note": "Rnd is the pulse, said Ana on the phone",
            },
        )
        assert answer.status_code == 200, answer.text
        assert "imported as version 1" in answer.text
        assert "/ui/tables/acme/voice/default/versions/1" in answer.text
        log = c.get("/ui/audit").text
    rows = tables.rows(site.app, "acme").frame.sort("code")
    assert rows.select("code", "interval1", "interval_n").rows() == [
        ("502", 1, 1),
        ("52", 60, 60),
        ("521", 60, 60),
    ]
    (entry,) = audit.entries(site.app)
    assert (entry.actor, entry.action, entry.target) == (
        "user olga",
        "release",
        f"quarantine {held}",
    )
    assert "Rnd is the pulse" in (entry.note or "")
    assert "user olga" in log and f"quarantine {held}" in log


def test_a_bad_answer_is_said_on_the_form_and_nothing_is_released(site):
    held = site.held_deck()
    with site.login("olga") as c:
        page = c.get(f"/ui/quarantine/{held}")
        answer = c.post(
            f"/ui/quarantine/{held}/release",
            data={"csrf": csrf_of(page.text), "increments": "Mexico=sixty"},
        )
        assert answer.status_code == 422
        assert "is not increments" in answer.text and 'name="map:Rnd"' in answer.text
    assert messages.held_message(site.app, held).state == "held"


def test_a_drop_is_kept_with_its_note_in_the_audit_log(site):
    held = site.held_deck()
    with site.login("adam") as c:
        page = c.get(f"/ui/quarantine/{held}")
        answer = c.post(
            f"/ui/quarantine/{held}/drop", data={"csrf": csrf_of(page.text), "note": "sent twice"}
        )
        assert answer.status_code == 303
        shown = c.get(f"/ui/quarantine/{held}").text
        assert "dropped" in shown and 'action="/ui/quarantine/' not in shown
    (entry,) = audit.entries(site.app)
    assert (entry.action, entry.note) == ("drop", "sent twice")


def test_the_import_report_shows_detection_columns_counts_and_guards(site):
    site.two_versions()
    with site.login("vera") as c:
        dashboard = c.get("/ui/").text
        assert "/ui/tables/acme/voice/default/versions/2" in dashboard
        report = c.get("/ui/tables/acme/voice/default/versions/2").text
    for shown in (
        "Detection",
        "Prefix",
        "code",
        "header",
        "high",
        "Guards",
        "price_jump",
        "acme-2026-03-08.csv",
        "Changes from version 1",
    ):
        assert shown in report, shown


def test_the_diff_is_filtered_searched_paged_and_downloaded_on_the_server(site):
    site.two_versions()
    base = "/ui/tables/acme/voice/default/diff"
    with site.login("vera") as c:
        whole = c.get(base, params={"from": 1, "to": 2}).text
        for code in ("49", "33", "34", "39"):
            assert f"<td>{code}</td>" in whole, code
        increases = c.get(base, params={"from": 1, "to": 2, "change": "increase"}).text
        assert "<td>49</td>" in increases and "<td>33</td>" not in increases
        assert "0.0123" in increases and "0.015" in increases
        found = c.get(base, params={"from": 2, "to": 1, "q": "spa"}).text  # either order
        assert "<td>34</td>" in found and "<td>49</td>" not in found
        by_code = c.get(base, params={"from": 1, "to": 2, "q": "+3"}).text
        assert "<td>33</td>" in by_code and "<td>49</td>" not in by_code
        download = c.get(base, params={"from": 1, "to": 2, "change": "decrease", "format": "csv"})
        bad = c.get(base, params={"from": 1, "to": 2, "change": "sideways"})
        same = c.get(base, params={"from": 2, "to": 2})
        missing = c.get(base, params={"from": 1, "to": 9})
    assert download.headers["content-disposition"].endswith('-1-2-changes.csv"')
    (row,) = list(csv.DictReader(io.StringIO(download.text)))
    assert (row["code"], row["old_price"], row["new_price"]) == ("33", "0.02", "0.018")
    assert bad.status_code == 422 and "change class &#39;sideways&#39;" in bad.text
    assert same.status_code == 422 and "two different versions" in same.text
    assert missing.status_code == 404


def test_a_diff_pages_through_many_changes(site, monkeypatch):
    from ingestd.web.console import tables as pages

    monkeypatch.setattr(pages, "CHANGES_PER_PAGE", 2)
    site.two_versions()
    base = "/ui/tables/acme/voice/default/diff"
    seen = []
    with site.login("vera") as c:
        link = f"{base}?from=1&to=2"
        while link:
            text = c.get(link).text
            seen += [code for code in ("49", "33", "34", "39") if f"<td>{code}</td>" in text]
            found = [a for a in text.split('href="')[1:] if 'rel="next"' in a]
            link = found[0].split('"')[0].replace("&amp;", "&") if found else None
    assert sorted(seen) == ["33", "34", "39", "49"] and len(seen) == 4


def test_the_rows_of_a_version_and_a_lookup_across_vendors(site):
    site.two_versions()
    with site.login("vera") as c:
        rows = c.get("/ui/tables/acme/voice/default/versions/1/rows").text
        assert "<td>49</td>" in rows and "0.0123" in rows
        later = c.get("/ui/tables/acme/voice/default/versions/1/rows", params={"after": "39"})
        assert "<td>49</td>" in later.text and "<td>33</td>" not in later.text
        found = c.get("/ui/lookup", params={"number": "+4930123456", "at": "2026-03-20"}).text
        assert "Germany" in found and "0.015" in found
        nothing = c.get("/ui/lookup", params={"number": "999"}).text
        assert "No vendor has a rate for 999" in nothing
        bad = c.get("/ui/lookup", params={"number": "49", "at": "yesterday"})
        assert bad.status_code == 422 and "not an ISO 8601 instant" in bad.text
        unknown = c.get("/ui/tables/acme/voice/nothing")
        assert unknown.status_code == 404 and "Traceback" not in unknown.text


def test_pages_carry_headers_that_keep_them_to_themselves(site):
    with site.login("vera") as c:
        answer = c.get("/ui/")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    assert "<script" not in answer.text


def test_an_operator_retries_mail_and_a_webhook_delivery_from_their_pages(tmp_path, sqlite_url):
    with ConsoleSite(tmp_path, sqlite_url, webhook=True) as site:
        site.held_deck()  # the quarantine alert waits in the outbox (nothing delivers here)
        site.two_versions()  # each version is an event for the receiver
        (mail, *_) = outbox.latest(site.app)
        (delivery, *_) = webhooks.deliveries(site.app)
        with site.login("olga") as c:
            page = c.get("/ui/outbox")
            assert f'action="/ui/outbox/{mail.id}/retry"' in page.text
            done = c.post(f"/ui/outbox/{mail.id}/retry", data={"csrf": csrf_of(page.text)})
            assert done.status_code == 303
            assert f"Mail {mail.id} is due again" in c.get(done.headers["location"]).text
            page = c.get("/ui/webhooks")
            assert "http://127.0.0.1:9/nowhere" in page.text and "version.created" in page.text
            done = c.post(f"/ui/webhooks/{delivery.id}/retry", data={"csrf": csrf_of(page.text)})
            assert done.status_code == 303
            assert f"Delivery {delivery.id} is due again" in c.get(done.headers["location"]).text
            log = c.get("/ui/audit").text
        found = [(e.actor, e.action, e.target) for e in audit.entries(site.app)]
        assert found == [
            ("user olga", "retry", f"webhook delivery {delivery.id}"),
            ("user olga", "retry", f"outbox {mail.id}"),
        ]
        assert f"webhook delivery {delivery.id}" in log and f"outbox {mail.id}" in log


def test_the_outbox_pages_back_newest_first(site, monkeypatch):
    from ingestd.web.console import deliveries as pages

    monkeypatch.setattr(pages, "PER_PAGE", 1)
    site.held_deck()
    entries = outbox.latest(site.app)
    assert len(entries) >= 2
    with site.login("vera") as c:
        first = c.get("/ui/outbox").text
        assert f'<td class="num">{entries[0].id}</td>' in first
        link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
        second = c.get(link.replace("&amp;", "&")).text
        assert f'<td class="num">{entries[1].id}</td>' in second


def test_the_cookie_key_is_made_once_private_and_outlives_a_restart(tmp_path, sqlite_url):
    with ConsoleSite(tmp_path, sqlite_url) as site, site.login("vera") as c:
        cookie = c.cookies["ingestd_session"]
    key = site.config.daemon.state_dir / "console.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    made = key.read_bytes()
    with ConsoleSite(tmp_path, sqlite_url) as again, again.client() as c:
        c.cookies.set("ingestd_session", cookie, domain="127.0.0.1", path="/ui")
        # the same database and state directory: the session is still open, its cookie
        # still signed by the key
        assert c.get("/ui/").status_code == 200
    assert key.read_bytes() == made


def test_addresses_no_page_has_are_said_in_a_page_never_a_traceback(site):
    site.two_versions()
    with site.login("olga") as c:
        token = csrf_of(c.get("/ui/").text)
        answers = {
            "/ui/quarantine/abc": 404,
            "/ui/quarantine/999": 404,
            "/ui/tables/acme/voice/default/versions/999": 404,
            "/ui/tables/acme/voice/default/versions/x": 404,
            "/ui/tables/acme/voice/nothing": 404,
            "/ui/tables/acme/fax/default": 404,
            "/ui/tables/..%2F..%2Fetc/voice/default": 404,
            "/ui/vendors/nobody": 404,
            "/ui/tables/acme/voice/default/diff": 422,
            "/ui/tables/acme/voice/default/diff?from=1&to=x": 422,
            "/ui/tables/acme/voice/default/diff?from=-1&to=2": 422,
            "/ui/audit?before=x": 422,
            "/ui/lookup?number=49&at=2026-13-45": 422,
        }
        for path, status in answers.items():
            answer = c.get(path)
            assert answer.status_code == status, (path, answer.status_code, answer.text[:300])
            assert answer.headers["content-type"].startswith("text/html"), path
            assert "Traceback" not in answer.text and 'class="error"' in answer.text, path
        for path in ("/ui/quarantine/999/release", "/ui/quarantine/999/drop"):
            answer = c.post(path, data={"csrf": token})
            assert answer.status_code == 404 and "no quarantined message 999" in answer.text
        answer = c.post("/ui/outbox/999/retry", data={"csrf": token})
        assert answer.status_code == 422 and "no outbox message 999" in answer.text
    assert audit.entries(site.app) == []
