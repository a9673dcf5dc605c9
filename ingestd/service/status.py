"""What ingestd is doing and whether it can work: the status of tables, mail, the queue and
the IMAP accounts; a check of the configuration; the database schema."""

from __future__ import annotations

import ssl
from typing import Any

import sqlalchemy.exc

from ingestd.config import Config, ConfigError, describe
from ingestd.rates.store import Store
from ingestd.service.app import App
from ingestd.service.messages import counts


def status(app: App) -> dict[str, Any]:
    """Tables, versions and last imports, messages, the quarantine and the outbox by state,
    the inbound queue's depths and each IMAP account's connection (``ingestd status``)."""
    from ingestd.intake.imap.status import read_status
    from ingestd.intake.queue import InboundQueue

    config = app.config
    out = {"database": describe(config)["database_url"], **app.store.status()}
    out["tables_detail"] = [t.as_dict() for t in app.store.tables()]
    out.update(counts(app))
    out["queue"] = InboundQueue.depths(config.daemon.state_dir / "queue")
    out["imap"] = [read_status(config.daemon.state_dir, a.name) for a in config.imap]
    return out


def check_config(config: Config, *, connect: bool = False) -> dict[str, Any]:
    """Whether the configuration can work (``ingestd check-config``): the database reached
    and its schema, the mail templates, the outgoing DKIM key, and with ``connect`` a login to
    every IMAP account (creating missing processed/quarantine folders).  ``ok`` is False when
    one of them cannot be used.

    It takes the configuration, not an :class:`App`: finding out whether an app can be
    opened on the database is part of what it checks."""
    report: dict[str, Any] = {"ok": True, "config": describe(config), "database": {}}
    ok = True
    try:
        store = Store(config.database.url)
        try:
            report["database"] = {
                "reachable": True,
                "revision": store.revision(),
                "head": store.head_revision(),
            }
        finally:
            store.close()
        if report["database"]["revision"] != report["database"]["head"]:
            report["database"]["note"] = "schema not current: run `ingestd db upgrade`"
    except sqlalchemy.exc.SQLAlchemyError as e:
        ok = False
        report["database"] = {"reachable": False, "error": str(getattr(e, "orig", None) or e)}
    from ingestd.mail.render import check_templates
    from ingestd.mail.signing import DkimSigner

    report["templates"] = check_templates(config.daemon.templates_dir)
    ok = ok and not report["templates"]
    try:
        signer = DkimSigner.from_config(config.outbound)
        report["dkim"] = (
            {"signing": True, "domain": signer.domain, "selector": signer.selector,
             "algorithm": signer.algorithm.decode()}
            if signer is not None
            else {"signing": False}
        )  # fmt: skip
    except ConfigError as e:
        ok = False
        report["dkim"] = {"signing": False, "error": str(e)}
    report["http"] = check_http(config)
    ok = ok and not report["http"].get("error")
    report["webhooks"] = check_webhooks(config)
    ok = ok and not any(w.get("error") for w in report["webhooks"])
    if connect:
        from ingestd.intake.imap.check import check_account

        checks = [check_account(account) for account in config.imap]
        report["imap"] = [c.as_json() for c in checks]
        ok = ok and all(c.ok for c in checks)
    report["ok"] = ok
    return report


def check_http(config: Config) -> dict[str, Any]:
    """Whether ``[http]`` can be served: its TLS certificate and key load together."""
    http = config.http
    if not http.listen:
        return {"serving": False}
    report: dict[str, Any] = {"serving": True, "listen": http.listen, "tls": False}
    if http.tls_cert_file is not None and http.tls_key_file is not None:
        try:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(http.tls_cert_file, http.tls_key_file)
            report["tls"] = True
        except (OSError, ssl.SSLError) as e:
            report["error"] = (
                f"the TLS certificate {http.tls_cert_file} and key {http.tls_key_file} "
                f"cannot be used: {getattr(e, 'strerror', None) or e}"
            )
    return report


def check_webhooks(config: Config) -> list[dict[str, Any]]:
    """Every ``[[webhooks]]`` receiver and whether its secret can be read."""
    out = []
    for receiver in config.webhooks:
        entry: dict[str, Any] = {"url": receiver.url, "events": list(receiver.events)}
        try:
            receiver.secret()
        except ConfigError as e:
            entry["error"] = str(e)
        out.append(entry)
    return out


def schema_revision(app: App) -> str | None:
    """The database's schema revision (None: no schema yet)."""
    return app.store.revision()


def upgrade_schema(app: App) -> tuple[str | None, str | None]:
    """Apply the schema migrations; returns the revision before and after."""
    return app.store.upgrade()
