"""Fixtures for the intake tests: a real Dovecot per test (docs/testing.md#real-components)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rig.dovecot import Dovecot, dovecot_problem

TOP_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def _missing(config: pytest.Config) -> Callable[[str], None]:
    """``missing`` from tests/conftest.py (skip locally, fail under CI=true). Taken from the
    plugin pytest loaded, since a second ``conftest`` module name cannot be imported here."""
    for plugin in config.pluginmanager.get_plugins():
        path = getattr(plugin, "__file__", None)
        if path and Path(path).resolve() == TOP_CONFTEST:
            return plugin.missing
    raise RuntimeError(f"{TOP_CONFTEST} is not loaded")


@pytest.fixture
def dovecot(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    """A running Dovecot with user ``alice`` and an empty INBOX, removed afterwards.

    Parametrize indirectly with a dict of ``Dovecot`` arguments (``tls``, ``extra_config``)."""
    options = getattr(request, "param", {})
    problem = dovecot_problem(tls=options.get("tls", False))
    if problem is not None:
        _missing(request.config)(problem)
    server = Dovecot(**options)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()
