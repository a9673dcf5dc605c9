"""``ingestd run`` serving HTTP next to SMTP (docs/http.md#server): the API answers on the
configured address, a SIGTERM lets a request in hand finish before the daemon exits, and a
flood of requests is answered 429 while SMTP keeps answering."""

from __future__ import annotations

import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families
from rig.daemon import CSV, TODAY, Setup, az_deck, deck_mail, send, voice_csv
from rig.ports import free_port
from rig.receiver import Receiver
from rig.signers import sign_dkimpy

from ingestd.service.webhooks import new_secret


def http_setup(tmp_path, dns, rate_limit: int = 0) -> tuple[Setup, str]:
    port = free_port()
    extra = f'[http]\nlisten = "127.0.0.1:{port}"\nrate_limit = {rate_limit}\n\n'
    return Setup.create(tmp_path, nameserver=dns.address, extra=extra), f"http://127.0.0.1:{port}"


def token(setup: Setup, *args: str) -> str:
    return setup.cli_json("apikey", "create", *args)["token"]


def test_the_daemon_serves_the_api_and_drains_a_request_on_sigterm(tmp_path, dns):
    setup, url = http_setup(tmp_path, dns)
    with setup.daemon() as daemon:
        daemon.wait_for(lambda: "event=daemon.ready" in daemon.log_text(), 15, "ready")
        assert f"http_port={url.rsplit(':', 1)[1]}" in daemon.log_text()
        upload = token(setup, "acme-drop", "--scope", "upload", "--vendor", "acme")
        reader = token(setup, "billing", "--scope", "read")
        rows = [(f"44{i:06d}", "UK", "0.0100") for i in range(120_000)]
        answer: dict = {}

        def post() -> None:
            answer["response"] = httpx.post(
                url + "/api/v1/decks",
                files={"file": ("acme-big.csv", voice_csv(rows))},
                headers={"Authorization": f"Bearer {upload}"},
                timeout=60,
            )

        poster = threading.Thread(target=post)
        poster.start()
        daemon.wait_for(lambda: "event=http.upload" in daemon.log_text(200_000), 30, "the upload")
        assert daemon.stop() == 0  # SIGTERM while the deck is being imported
        poster.join(30)
        response = answer["response"]
        assert response.status_code == 201, response.text
        assert response.json()["decks"][0]["version"] == 1
        log = daemon.log_text(500_000)
        # the stop began while the request was in hand, and the request finished before the end
        stopping = log.index("event=daemon.stopping")
        assert stopping < log.index("event=http.request method=POST") < log.index("daemon.stopped")
    assert [v["sender"] for v in setup.versions()] == ["api key acme-drop"]
    assert setup.versions()[0]["rows_total"] == 120_000
    with setup.daemon():  # and the API answers again after a restart
        listed = httpx.get(url + "/api/v1/tables", headers={"Authorization": f"Bearer {reader}"})
        assert listed.json()["tables"][0]["version"] == 1


def test_a_flood_of_requests_is_429_while_smtp_keeps_answering(tmp_path, dns):
    setup, url = http_setup(tmp_path, dns, rate_limit=60)
    with setup.daemon() as daemon:
        reader = token(setup, "billing", "--scope", "read")
        stop = threading.Event()
        codes: list[int] = []

        def flood() -> None:
            with httpx.Client(headers={"Authorization": f"Bearer {reader}"}) as client:
                while not stop.is_set():
                    codes.append(client.get(url + "/api/v1/tables").status_code)

        floods = [threading.Thread(target=flood) for _ in range(4)]
        for thread in floods:
            thread.start()
        try:
            time.sleep(1.0)
            for i in range(3):  # whole SMTP transactions while the flood goes on
                send(setup.port, deck_mail(az_deck((f"4420{i}", "UK", "0.0100"))))
        finally:
            stop.set()
            for thread in floods:
                thread.join(10)
        assert 429 in codes and 200 in codes
        daemon.wait_for(lambda: setup.count("messages") == 3, 30, "the three messages")

        def scrape() -> dict:
            text = httpx.get(url + "/metrics").text
            return {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }

        quarantined = ("ingestd_messages_total", (("outcome", "quarantined"),))
        for _ in range(30):  # a message's row is written before it is counted as finished
            time.sleep(1.0)  # a scrape a second stays within the address's rate
            found = scrape()
            if found.get(quarantined) == 3:
                break
    assert found.get(quarantined) == 3, found  # unsigned: held
    assert found[("ingestd_smtp_sessions_total", ())] >= 3
    assert found[("ingestd_http_requests_total", (("status", "4xx"),))] >= 1  # the 429s
    assert found[("ingestd_queue_depth", (("state", "waiting"),))] == 0


def test_a_mailed_deck_reaches_a_webhook_receiver_within_seconds(tmp_path, dns, acme_key):
    """The daemon end to end: signed mail in over SMTP, the version written, the receiver told
    by the daemon's webhooks job (woken by the message), its signature verified by the
    Standard Webhooks library."""
    secret = new_secret()
    with Receiver(secret) as receiver:
        secret_file = tmp_path / "webhook.secret"
        secret_file.write_text(secret)
        extra = (
            f'[[webhooks]]\nurl = "{receiver.url}"\nsecret_file = "{secret_file}"\n'
            'events = ["version.created"]\n\n'
        )
        setup = Setup.create(tmp_path, nameserver=dns.address, extra=extra)
        with setup.daemon() as daemon:
            day = TODAY.isoformat()
            deck = f"Code,Destination,Rate,Effective Date\r\n4420,UK,0.01,{day}\r\n".encode()
            raw = deck_mail(("acme_az.csv", deck, CSV), message_id="<hook-1@acme.example>")
            send(setup.port, sign_dkimpy(raw, acme_key, domain="acme.example", selector="sel1"))
            daemon.wait_for(lambda: receiver.events, 30, "the webhook")
    (event,) = receiver.events
    assert event["type"] == "version.created" and event["data"]["source"] == "smtp"
    assert (event["data"]["vendor"], event["data"]["version"]) == ("acme", 1)
    assert receiver.requests[0]["problem"] is None
