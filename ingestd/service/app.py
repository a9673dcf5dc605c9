"""The application: one configuration, one opened store, and what an operation needs besides
(the mail pipeline, the outbox), made when first asked for."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ingestd.config import Config
from ingestd.logs import kv
from ingestd.rates.store import Store

if TYPE_CHECKING:  # the mail modules load only for the operations that use them
    from ingestd.mail.outbox import Outbox
    from ingestd.message.notify import Notifier
    from ingestd.message.pipeline import Pipeline
    from ingestd.webhooks.deliveries import Webhooks

log = logging.getLogger("ingestd.service")


class App:
    """ingestd bound to one configuration and one database.  Open it with :meth:`open`: the
    command line opens one per command, a long-running server keeps one open."""

    def __init__(self, config: Config, store: Store, *, deliver: bool = True):
        self.config = config
        self.store = store
        self.deliver = deliver
        self._pipeline: Pipeline | None = None
        self._notifier: Notifier | None = None
        self._outbox: Outbox | None = None
        self._webhooks: Webhooks | None = None

    @classmethod
    @contextmanager
    def open(cls, config: Config, *, schema: bool = True, deliver: bool = True) -> Iterator[App]:
        """The app on the configured database.  ``schema``: make the schema current first
        (upgraded on SQLite, else checked: a usage error says to run ``ingestd db upgrade``);
        False for the commands that look at or upgrade the schema itself.  ``deliver``: when
        the app closes without an error, send what the mail pipeline put in the outbox (the
        daemon retries what could not go); a server that leaves sending to the daemon passes
        False."""
        store = Store(config.database.url)
        try:
            if schema:
                store.require_schema(auto_upgrade=store.dialect == "sqlite")
            app = cls(config, store, deliver=deliver)
            yield app
            app._deliver_due()
        finally:
            store.close()

    @property
    def outbox(self) -> Outbox:
        """The outbox (its transport and DKIM key from ``[outbound]``); a message it gives up
        on is a webhooks' ``delivery.failed`` event."""
        if self._outbox is None:
            from ingestd.mail.outbox import Outbox

            self._outbox = Outbox(self.store, self.config)
            self._outbox.on_failure = self.webhooks.announce_failed_mail
        return self._outbox

    @property
    def webhooks(self) -> Webhooks:
        """The webhook deliveries (``[[webhooks]]``)."""
        if self._webhooks is None:
            from ingestd.webhooks.deliveries import Webhooks

            self._webhooks = Webhooks(self.store, self.config)
        return self._webhooks

    @property
    def pipeline(self) -> Pipeline:
        """The mail pipeline with its notify stage (which fills the outbox)."""
        if self._pipeline is None:
            from ingestd.message.notify import Notifier
            from ingestd.message.pipeline import Pipeline

            pipeline = Pipeline(self.config, self.store)
            self._notifier = Notifier(self.config, self.store, self.outbox)
            self._notifier.webhooks = self.webhooks
            pipeline.after = self._notifier.notify_safely
            self._pipeline = pipeline
        return self._pipeline

    @property
    def notifier(self) -> Notifier:
        """The pipeline's notify stage."""
        self.pipeline  # noqa: B018 -- made with the pipeline it serves
        assert self._notifier is not None
        return self._notifier

    def _deliver_due(self) -> None:
        """Send what the pipeline's notify stage put in the outbox, once: a failure is logged,
        the daemon's outbox run sends it later."""
        if self._notifier is None or not self.deliver:
            return
        try:
            self._notifier.outbox.deliver_due()
        except Exception:
            log.exception(kv("outbox.delivery_failed"))
