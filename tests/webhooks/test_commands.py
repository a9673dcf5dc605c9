"""``ingestd webhooks`` and what ``check-config`` says of receivers (docs/http.md#webhooks), and
mail the outbox gives up on told as ``delivery.failed``."""

from __future__ import annotations

import json
from email.message import EmailMessage

from rig.factories import run_ingestd
from rig.mail import config_path
from rig.relay import Relay
from standardwebhooks import Webhook

from ingestd.config import load_config
from ingestd.service import App

from .conftest import receiver_toml


def test_a_secret_is_one_the_standard_library_takes(tmp_path):
    done = run_ingestd("webhooks", "secret", env={})
    secret = done.stdout.strip()
    assert done.returncode == 0 and secret.startswith("whsec_")
    Webhook(secret)  # raises on a malformed one
    again = run_ingestd("webhooks", "secret", "--json", env={})
    assert json.loads(again.stdout)["secret"] != secret


def test_list_retry_test_and_check_config(tmp_path, receivers):
    receiver, secret = receivers(answers=[503, 200])
    tables = receiver_toml(tmp_path, receiver, secret)
    tables += '\n[[webhooks]]\nurl = "http://127.0.0.1:9/nowhere"\n'
    tables += f'secret_file = "{tmp_path / "missing.secret"}"\n'
    config = config_path(tmp_path, tables=tables)
    env = {"INGESTD_CONFIG": str(config)}
    checked = run_ingestd("check-config", env=env)
    assert checked.returncode == 1
    assert f"webhook {receiver.url}: version.created, rates.changed" in checked.stdout
    assert "webhook http://127.0.0.1:9/nowhere NOT usable: " in checked.stdout
    assert "cannot read secret_file" in checked.stdout
    tested = run_ingestd("webhooks", "test", env=env)
    assert tested.returncode == 1  # one receiver cannot be reached
    assert f"FAILED {receiver.url}  503" in tested.stdout
    assert "FAILED http://127.0.0.1:9/nowhere  no answer" in tested.stdout
    deck = tmp_path / "deck.csv"
    deck.write_text("Destination,Prefix,Rate\r\nUK,44,0.01\r\n")
    assert run_ingestd("import", str(deck), "--vendor", "acme", env=env).returncode == 0
    listed = json.loads(run_ingestd("webhooks", "list", "--json", env=env).stdout)
    assert {(d["type"], d["state"]) for d in listed} == {
        ("version.created", "pending"), ("rates.changed", "pending"),
    }  # fmt: skip
    one = listed[0]["id"]
    retried = run_ingestd("webhooks", "retry", str(one), env=env)
    assert retried.returncode == 0 and "is due now" in retried.stdout
    wrong = run_ingestd("webhooks", "retry", env=env)
    assert wrong.returncode == 2 and "its id" in wrong.stderr + wrong.stdout
    none = run_ingestd("webhooks", "retry", "999", env=env)
    assert none.returncode == 1 and "no webhook delivery 999" in none.stderr + none.stdout
    text = run_ingestd("webhooks", "list", env=env).stdout
    assert "version.created" in text and receiver.url in text


def test_mail_given_up_on_is_told_as_delivery_failed(tmp_path, sqlite_url, receivers):
    receiver, secret = receivers()
    relay = Relay().start()  # refuses bounce@…: 550
    tables = receiver_toml(tmp_path, receiver, secret, 'events = ["delivery.failed"]')
    overrides = {
        "INGESTD_OUTBOUND_TRANSPORT": "smtp", "INGESTD_OUTBOUND_HOST": "127.0.0.1",
        "INGESTD_OUTBOUND_PORT": str(relay.port), "INGESTD_OUTBOUND_SECURITY": "none",
    }  # fmt: skip
    config = load_config(config_path(tmp_path, db_url=sqlite_url, tables=tables), env=overrides)
    message = EmailMessage()
    message["From"] = "rates@carrier.example"
    message["To"] = "bounce@acme.example"
    message["Subject"] = "import report"
    message["Message-ID"] = "<report-1@carrier.example>"
    message.set_content("hello")
    try:
        with App.open(config, deliver=False) as app:
            entry = app.outbox.enqueue(message, purpose="import_report")
            assert entry in app.outbox.deliver_due().failed
            app.webhooks.deliver_due()
    finally:
        relay.stop()
    (event,) = receiver.events
    assert event["type"] == "delivery.failed"
    assert event["data"]["what"] == "mail" and event["data"]["id"] == entry
    assert event["data"]["to"] == "bounce@acme.example" and "550" in event["data"]["error"]
