"""Folder names on real IMAP servers (SPEC §5 "IMAP", README "IMAP"): the translation of
configured ``/`` names to the server's hierarchy and namespace, and what happens when the server
refuses the login or a folder."""

from __future__ import annotations

import pytest

from ingestd.intake.imap import FolderNameError, PersonalNamespace, server_folder

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
