"""The web console for its tests (docs/testing.md#real-components): the real server (``Served``,
uvicorn on a free port) over a configuration whose vendor acme has its DKIM key pinned, people
of every role made as ``ingestd user add`` makes them, and what the pages show: two imported
versions of acme's table and a deck held because the reader doubts a column.

    with ConsoleSite(tmp_path, db_url) as site:
        with site.login("olga") as browser:   # an httpx client with olga's session
            browser.get("/ui/")
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx

from ingestd.service import decks, messages, users, webhooks
from rig.http import Served
from rig.mail import make_config, rate_message, signed
from rig.signers import SigningKey, rsa_key

HTTP = 'listen = "127.0.0.1:0"\nrate_limit = 0'
PASSWORD = "correct horse battery"
PEOPLE = {"vera": "viewer", "olga": "operator", "adam": "admin"}

# acme's price list of 2026-03-01, then the one of 2026-03-08 (one increase, one decrease,
# one new code, one code gone)
FIRST = b"Destination,Prefix,Rate\nGermany,49,0.0123\nFrance,33,0.0200\nItaly,39,0.0150\n"
SECOND = b"Destination,Prefix,Rate\nGermany,49,0.0150\nFrance,33,0.0180\nSpain,34,0.0110\n"
# a deck with a column of whole seconds under a header nobody knows: held, with the question
DOUBTFUL = (
    b"Destination,Prefix,Rate,Rnd\n"
    b"Mexico,52,0.0178,60\nMexico Mobile,521,0.0231,60\nGuatemala,502,0.0890,1\n"
)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found[1]


class ConsoleSite:
    def __init__(
        self, tmp_path: Path, db_url: str, key: SigningKey | None = None, *, webhook: bool = False
    ):
        """With ``webhook``, a receiver nobody answers at: every event's delivery fails."""
        self.key = key or rsa_key(1024)
        extra = ""
        if webhook:
            secret = tmp_path / "webhook.secret"
            secret.write_text(webhooks.new_secret() + "\n")
            extra = (
                f'\n[[webhooks]]\nurl = "http://127.0.0.1:9/nowhere"\nsecret_file = "{secret}"\n'
            )
        self.config = make_config(tmp_path, db_url=db_url, http=HTTP, pin=self.key, tables=extra)
        self.stack = contextlib.ExitStack()

    def __enter__(self) -> ConsoleSite:
        self.served = self.stack.enter_context(Served(self.config))
        self.app = self.served.app
        self.url = self.served.url
        there = {u.name for u in users.users(self.app)}  # a site started again on its database
        for name, role in PEOPLE.items():
            if name not in there:
                users.add(self.app, name, role, PASSWORD)
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()

    # --- what the pages show ---

    def two_versions(self) -> None:
        for data, day in ((FIRST, 1), (SECOND, 8)):
            done = decks.import_deck(
                self.app,
                "acme",
                data,
                file_name=f"acme-2026-03-0{day}.csv",
                received_at=datetime(2026, 3, day),
                sender="rates@acme.example",
                mode="full",
                accept_guards=True,  # the full deck drops Italy: a third of the codes
            )
            assert done[0].status == "imported", done[0].message

    def held_deck(self) -> int:
        """A signed message of acme whose deck the reader doubts; its quarantine id."""
        raw = signed(rate_message([("rates.csv", DOUBTFUL)]), self.key)
        outcome = messages.import_message(self.app, raw)
        assert outcome.status == "quarantined", outcome.message
        return outcome.quarantine_id

    # --- people at the console ---

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)

    @contextlib.contextmanager
    def login(self, name: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
        """A client with ``name``'s session (the login form's token taken from the form)."""
        with self.client() as client:
            form = client.get("/ui/login")
            answer = client.post(
                "/ui/login",
                data={
                    "name": name,
                    "password": password,
                    "csrf": csrf_of(form.text),
                    "next": "/ui/",
                },
            )
            assert answer.status_code == 303, answer.text
            yield client
