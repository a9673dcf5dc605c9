"""What ingestd can do, in one place: the application layer the ``ingestd`` command calls (and
that the HTTP API, ``ingestd.web``, calls the same way).

An :class:`App` holds the configuration and one opened store; the modules here are its
operations, one module per concept (``tables``, ``decks``, ``messages``, ``outbox``,
``vendors``, ``status``, ``apikeys``, ``users``, ``sessions``, ``audit``).  Each function takes
the app first and plain arguments, returns data (the project's dataclasses, or small frozen ones
with ``as_dict()``), never prints, and raises the project's errors (``ingestd.errors``) for what
the user got wrong.
"""

from ingestd.service.app import App

__all__ = ["App"]
