"""Folder names on real IMAP servers (docs/mail.md#mail-in "IMAP", docs/mail.md#imap): the
translation of configured ``/`` names to the server's hierarchy and namespace, and what happens when
the server refuses the login or a folder."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from rig.daemon import ImapMailbox, Setup
from rig.dovecot import Dovecot
from rig.ports import free_port

from ingestd.intake.imap.folders import FolderNameError, PersonalNamespace, server_folder
from ingestd.intake.imap.handover import Disposition, MessageRef
from ingestd.intake.imap.poller import ImapPoller
from ingestd.intake.imap.status import read_status

from .test_imap import (
    PROCESSED,
    QUARANTINE,
    Recorder,
    account_for,
    events,
    message,
    poller_for,
    sweep_once,
    wait_until,
)

SLASH = PersonalNamespace("", "/")  # Exchange, Gmail, Dovecot with separator = /
DOT = PersonalNamespace("", ".")  # Dovecot's default for Maildir
INBOX_DOT = PersonalNamespace("INBOX.", ".")  # Courier, Cyrus
FLAT = PersonalNamespace("", None)  # a server without hierarchy (NIL delimiter)


@pytest.mark.parametrize(
    ("configured", "namespace", "expected"),
    [
        ("INBOX", SLASH, "INBOX"),
        ("INBOX", DOT, "INBOX"),
        ("INBOX", INBOX_DOT, "INBOX"),  # the inbox itself is never prefixed
        ("inbox", INBOX_DOT, "INBOX"),  # any case names the inbox
        ("Inbox", FLAT, "INBOX"),
        ("ingestd/processed", SLASH, "ingestd/processed"),
        ("ingestd/processed", DOT, "ingestd.processed"),
        ("ingestd/processed", INBOX_DOT, "INBOX.ingestd.processed"),
        ("processed", SLASH, "processed"),
        ("processed", DOT, "processed"),
        ("processed", INBOX_DOT, "INBOX.processed"),
        ("processed", FLAT, "processed"),
        ("a/b/c/d", DOT, "a.b.c.d"),
        # already written below the prefix: not prefixed twice
        ("INBOX/ingestd/processed", INBOX_DOT, "INBOX.ingestd.processed"),
        ("inbox/ingestd", INBOX_DOT, "INBOX.ingestd"),
        ("INBOX/ingestd", DOT, "INBOX.ingestd"),  # a folder below the inbox, no prefix
        ("INBOX/ingestd", SLASH, "INBOX/ingestd"),
        # non-ASCII levels are kept as text (imapclient writes them in modified UTF-7)
        ("ingestd/traité", DOT, "ingestd.traité"),
        ("価格/処理済み", INBOX_DOT, "INBOX.価格.処理済み"),
        ("Überprüft", SLASH, "Überprüft"),
        # characters other than the delimiter are the server's business, passed unchanged
        ("rates & decks/2024", DOT, "rates & decks.2024"),
        ("a.b", SLASH, "a.b"),  # '.' is an ordinary character where '/' separates levels
        # other prefixes: the prefix is found level by level
        ("x", PersonalNamespace("Mail/", "/"), "Mail/x"),
        ("Mail/x", PersonalNamespace("Mail/", "/"), "Mail/x"),
        ("Mailbox/x", PersonalNamespace("Mail/", "/"), "Mail/Mailbox/x"),
        ("x/y", PersonalNamespace("#mh/", "/"), "#mh/x/y"),
        ("x/y", PersonalNamespace("INBOX/", "/"), "INBOX/x/y"),
        ("x", PersonalNamespace("INBOX.", "."), "INBOX.x"),
        ("INBOXES/x", INBOX_DOT, "INBOX.INBOXES.x"),  # only a whole level matches the prefix
    ],
)
def test_configured_names_become_the_servers_names(
    configured: str, namespace: PersonalNamespace, expected: str
) -> None:
    assert server_folder(configured, namespace) == expected


@pytest.mark.parametrize(
    ("configured", "namespace", "says"),
    [
        # on a '.' server a '.' inside a level would silently make another level: refused
        ("ingestd.processed", DOT, "'.' separates folder levels on this server"),
        ("INBOX.ingestd", INBOX_DOT, "write levels with '/' (e.g. 'INBOX/ingestd')"),
        ("rates/v1.2", DOT, "'rates/v1.2'"),
        ("", DOT, "empty folder level"),
        ("/processed", SLASH, "empty folder level"),
        ("processed/", DOT, "empty folder level"),
        ("a//b", INBOX_DOT, "empty folder level"),
        ("ingestd/processed", FLAT, "no folder hierarchy"),
    ],
)
def test_names_the_servers_hierarchy_cannot_hold_are_refused_naming_the_folder(
    configured: str, namespace: PersonalNamespace, says: str
) -> None:
    with pytest.raises(FolderNameError) as refused:
        server_folder(configured, namespace)
    assert f"folder {configured!r}" in str(refused.value)
    assert says in str(refused.value)


# -- the poller against Dovecot in each layout ------------------------------------------------


@pytest.fixture(autouse=True)
def _log_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ingestd.imap")


LAYOUTS = [
    {"layout": "dot"},
    {"layout": "slash"},
    {"layout": "inbox-prefix"},
    # no NAMESPACE capability: the delimiter comes from LIST "" ""
    {"layout": "dot", "extra_config": "imap_capability = IMAP4rev1 IDLE MOVE UIDPLUS"},
]
LAYOUT_IDS = ["dot", "slash", "inbox-prefix", "dot-without-namespace"]


@pytest.mark.parametrize("dovecot", LAYOUTS, indirect=True, ids=LAYOUT_IDS)
def test_folders_configured_with_slash_work_in_every_layout(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    dovecot.append(message(1))
    dovecot.append(message(2))

    def handler(raw: bytes, ref: MessageRef) -> Disposition:
        return Disposition.QUARANTINED if raw == message(2) else Disposition.PROCESSED

    assert sweep_once(account_for(dovecot, tmp_path), handler, tmp_path) == 2
    assert dovecot.contents("INBOX") == []
    assert dovecot.contents(dovecot.server_name(PROCESSED)) == [message(1)]
    assert dovecot.contents(dovecot.server_name(QUARANTINE)) == [message(2)]
    with dovecot.client() as c:
        names = {name for _, _, name in c.list_folders()}
        subscribed = {name for _, _, name in c.list_sub_folders()}
    expected = {dovecot.server_name(PROCESSED), dovecot.server_name(QUARANTINE)}
    assert expected <= names and expected <= subscribed
    assert "ingestd/processed" not in names or dovecot.separator == "/"


@pytest.mark.parametrize("dovecot", LAYOUTS[:3], indirect=True, ids=LAYOUT_IDS[:3])
def test_a_source_folder_and_targets_with_non_ascii_names(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, processed = "fournisseurs/décomptes", "ingestd/traité"
    dovecot.create_folder(dovecot.server_name("fournisseurs"))
    dovecot.create_folder(dovecot.server_name(source))
    dovecot.append(message(1), folder=dovecot.server_name(source))
    account = account_for(dovecot, tmp_path, folder=source, processed_folder=processed)
    handler = Recorder()
    assert sweep_once(account, handler, tmp_path) == 1
    assert handler.calls[0][1].folder == source  # the configured name, as the handler sees it
    assert dovecot.contents(dovecot.server_name(source)) == []
    assert dovecot.contents(dovecot.server_name(processed)) == [message(1)]
    [connected] = events(caplog, "connected")
    assert f"server_folder={dovecot.server_name(source)}" in connected.getMessage()
    with dovecot.client() as c:  # stored in modified UTF-7, as any mail client writes it
        raw_names = c._imap.list('""', "*")[1]
    assert any(b"trait&AOk-" in line for line in raw_names)


# -- configuration errors: their own state, the server's words, a slow fixed retry -----------


def status_of(tmp_path: Path) -> dict:
    return read_status(tmp_path / "state", "vendor-mailbox")


def run_until_config_error(
    poller: ImapPoller, tmp_path: Path, caplog: pytest.LogCaptureFixture, errors: int = 2
) -> dict:
    """Run the poller until it logged ``errors`` configuration errors; returns its status."""
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(events(caplog, "config_error")) >= errors, timeout=15)
        return status_of(tmp_path)
    finally:
        poller.stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.mark.parametrize("dovecot", [{"layout": "dot"}], indirect=True)
def test_a_wrong_password_is_a_configuration_error_with_the_servers_words(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    account = account_for(dovecot, tmp_path)
    assert account.password_file is not None
    account.password_file.write_text("not-the-password\n")
    poller = poller_for(account, Recorder(), tmp_path, config_error_delay=0.3)
    status = run_until_config_error(poller, tmp_path, caplog)
    assert status["state"] == "config_error" and status["running"] is True
    assert "[AUTHENTICATIONFAILED] Authentication failed." in status["last_error"]
    assert "login refused for 'alice'" in status["last_error"]
    first, second = events(caplog, "config_error")[:2]
    assert 'server="[AUTHENTICATIONFAILED] Authentication failed."' in first.getMessage()
    assert first.levelno == logging.ERROR
    # the same fixed delay each time, never the growing reconnect delay
    assert "retry_in=0.3s" in first.getMessage() and "retry_in=0.3s" in second.getMessage()
    assert events(caplog, "connection_failed") == []


@pytest.mark.parametrize("dovecot", [{"layout": "dot"}], indirect=True)
def test_a_fixed_password_is_noticed_at_the_next_slow_retry(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    account = account_for(dovecot, tmp_path)
    assert account.password_file is not None
    account.password_file.write_text("not-the-password\n")
    dovecot.append(message(1))
    handler = Recorder()
    poller = poller_for(account, handler, tmp_path, config_error_delay=0.5)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: status_of(tmp_path)["state"] == "config_error", timeout=30)
        account.password_file.write_text(dovecot.password + "\n")
        wait_until(lambda: dovecot.contents("ingestd.processed") == [message(1)], timeout=30)
        assert status_of(tmp_path)["state"] in ("idle", "connected")
    finally:
        poller.stop.set()
        thread.join(timeout=5)
    assert handler.raws == [message(1)]


@pytest.mark.parametrize(
    ("dovecot", "changes", "folder", "said"),
    [
        # Dovecot refuses to create it: the server's words, the folder named
        (
            {"layout": "dot"},
            {"quarantine_folder": "~held"},
            "~held",
            "[CANNOT] Invalid mailbox name: Begins with '~'",
        ),
        ({"layout": "slash"}, {"processed_folder": "x" * 300}, "x" * 300, "[CANNOT]"),
        # a source folder is selected, never created: a typo must not be watched forever
        (
            {"layout": "inbox-prefix"},
            {"folder": "vendors/acme"},
            "vendors/acme",
            "Mailbox doesn't exist: INBOX.vendors.acme",
        ),
        # a name the server's hierarchy cannot hold: refused before the server is asked
        (
            {"layout": "dot"},
            {"processed_folder": "ingestd.processed"},
            "ingestd.processed",
            None,
        ),
    ],
    indirect=["dovecot"],
    ids=["refused-by-dovecot", "too-long", "missing-source", "dot-in-a-level"],
)
def test_a_folder_that_cannot_be_used_is_a_configuration_error(
    dovecot: Dovecot,
    changes: dict,
    folder: str,
    said: str | None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dovecot.append(message(1))
    account = account_for(dovecot, tmp_path, **changes)
    handler = Recorder()
    poller = poller_for(account, handler, tmp_path, config_error_delay=0.3)
    status = run_until_config_error(poller, tmp_path, caplog)
    assert status["state"] == "config_error"
    assert "folder " + repr(folder)[:80] in status["last_error"]
    logged = events(caplog, "config_error")[0].getMessage()
    assert f"folder={folder}" in logged
    if said is None:
        assert "server=" not in logged
        assert "'.' separates folder levels on this server" in status["last_error"]
    else:
        assert said in status["last_error"] and said in logged
    assert events(caplog, "connection_failed") == []
    assert handler.calls == [] and dovecot.contents("INBOX") == [message(1)]  # nothing lost


# -- through the daemon and the CLI -------------------------------------------------------------


def imap_table(dovecot: Dovecot, name: str, password_file: Path, **folders: str) -> str:
    """One more ``[[imap]]`` account for Setup.create's ``extra``."""
    lines = [
        "",
        "[[imap]]",
        f'name = "{name}"',
        f'host = "{dovecot.host}"',
        f"port = {dovecot.port}",
        'security = "none"',
        f'username = "{dovecot.user}"',
        f'password_file = "{password_file}"',
        *(f'{key} = "{value}"' for key, value in folders.items()),
        "",
    ]
    return "\n".join(lines)


def passwords(dovecot: Dovecot, tmp_path: Path) -> tuple[Path, Path]:
    good, wrong = tmp_path / "imap.pass", tmp_path / "wrong.pass"
    good.write_text(dovecot.password + "\n")
    wrong.write_text("not-the-password\n")
    return good, wrong


@pytest.mark.parametrize("dovecot", [{"layout": "dot"}], indirect=True)
def test_ingestd_status_shows_configuration_errors_in_the_servers_words(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    good, wrong = passwords(dovecot, tmp_path)
    mailbox = ImapMailbox(dovecot.host, dovecot.port, dovecot.user, wrong)
    extra = imap_table(dovecot, "held-folder", good, quarantine_folder="~held")
    setup = Setup.create(tmp_path, nameserver="127.0.0.1:9", imap=mailbox, extra=extra)
    dovecot.append(message(1))
    state = tmp_path / "state"
    with setup.daemon() as daemon:
        daemon.wait_for(
            lambda: all(
                read_status(state, name)["state"] == "config_error"
                for name in ("vendor-mailbox", "held-folder")
            ),
            15,
            "both accounts in config_error",
        )
        listed = {a["account"]: a for a in setup.cli_json("status")["imap"]}
        text = setup.cli("status").stdout
        log = daemon.log_text()
        assert daemon.stop() == 0
    refused, held = listed["vendor-mailbox"], listed["held-folder"]
    assert refused["state"] == held["state"] == "config_error"
    assert refused["running"] and refused["retry_at"]
    assert refused["last_error"] == (
        "login refused for 'alice': [AUTHENTICATIONFAILED] Authentication failed."
    )
    assert held["last_error"].startswith("folder '~held' cannot be created: [CANNOT] Invalid ")
    assert (
        "imap       vendor-mailbox: config_error since " in text
        and "; configuration error at " in text
        and ": login refused for 'alice': [AUTHENTICATIONFAILED] Authentication failed." in text
    )
    assert "held-folder: config_error" in text and "Begins with '~'" in text
    assert 'event=config_error account=vendor-mailbox server="[AUTHENTICATIONFAILED]' in log
    assert "event=config_error account=held-folder folder=~held server=" in log
    assert "retry_in=300.0s" in log  # slow and fixed, not the growing reconnect delay
    assert "connection_failed" not in log
    assert dovecot.contents("INBOX") == [message(1)]  # waiting, not lost


@pytest.mark.parametrize("dovecot", [{"layout": "inbox-prefix"}], indirect=True)
def test_check_config_connect_logs_in_and_checks_the_folders(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    good, wrong = passwords(dovecot, tmp_path)
    mailbox = ImapMailbox(dovecot.host, dovecot.port, dovecot.user, good)
    setup = Setup.create(tmp_path, nameserver="127.0.0.1:9", imap=mailbox)

    done = setup.cli("check-config", "--connect")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert (
        f"imap vendor-mailbox ({dovecot.host}:{dovecot.port}): ok, namespace prefix 'INBOX.', "
        "delimiter '.'" in out
    )
    assert "  source     'INBOX' is 'INBOX' on the server: selectable" in out
    assert (
        "  processed  'ingestd/processed' is 'INBOX.ingestd.processed' on the server: created"
        in out
    )
    assert dovecot.server_name("ingestd/quarantine") == "INBOX.ingestd.quarantine"
    assert dovecot.messages("INBOX.ingestd.quarantine") == []  # it exists now
    report = setup.cli_json("check-config", "--connect")  # a second time: they exist
    [account] = report["imap"]
    assert report["ok"] is True and account["ok"] is True
    assert [(f["role"], f["server"], f["result"]) for f in account["folders"]] == [
        ("source", "INBOX", "selectable"),
        ("processed", "INBOX.ingestd.processed", "exists"),
        ("quarantine", "INBOX.ingestd.quarantine", "exists"),
    ]
    # without --connect nothing is contacted, and it says so
    assert "1 IMAP accounts not contacted" in setup.cli("check-config").stdout

    extra = imap_table(dovecot, "wrong-password", wrong) + imap_table(
        dovecot, "missing-source", good, folder="vendors/acme"
    )
    (tmp_path / "bad").mkdir()
    setup = Setup.create(tmp_path / "bad", nameserver="127.0.0.1:9", imap=mailbox, extra=extra)
    done = setup.cli("check-config", "--connect")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "imap vendor-mailbox (" in done.stdout  # the good one is still checked and ok
    assert (
        "imap wrong-password (127.0.0.1:" in done.stdout
        and "NOT usable, configuration error: login refused for 'alice': "
        "[AUTHENTICATIONFAILED] Authentication failed."
        in done.stdout
    )
    assert (
        "imap missing-source (127.0.0.1:" in done.stdout
        and "NOT usable, configuration error: folder 'vendors/acme' (server name "
        "'INBOX.vendors.acme') cannot be selected: Mailbox doesn't exist: INBOX.vendors.acme"
        in done.stdout
    )
    assert "Traceback" not in done.stdout + done.stderr
    report = setup.cli_json("check-config", "--connect", exit_code=1)
    assert [(a["account"], a["ok"], a["config_error"]) for a in report["imap"]] == [
        ("vendor-mailbox", True, False),
        ("wrong-password", False, True),
        ("missing-source", False, True),
    ]


def test_check_config_connect_reports_an_unreachable_server(tmp_path: Path) -> None:
    password = tmp_path / "imap.pass"
    password.write_text("secret\n")
    mailbox = ImapMailbox("127.0.0.1", free_port(), "alice", password)  # nothing listens
    setup = Setup.create(tmp_path, nameserver="127.0.0.1:9", imap=mailbox)
    done = setup.cli("check-config", "--connect")
    assert done.returncode == 1
    assert "imap vendor-mailbox (127.0.0.1:" in done.stdout
    assert "NOT usable, not reachable: ConnectionRefusedError" in done.stdout
