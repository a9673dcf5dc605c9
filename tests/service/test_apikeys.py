"""The HTTP API's keys through the application layer, on every database (docs/http.md#keys)."""

from __future__ import annotations

import pytest

from ingestd.errors import RefusedError, UsageError
from ingestd.service import App, apikeys
from ingestd.service.apikeys import Scope


@pytest.fixture
def app(app_on_db: App) -> App:
    return app_on_db


def test_a_key_is_made_found_by_its_token_and_revoked(app):
    key, token = apikeys.create(app, "billing", "read")
    assert token.startswith("ingestd_") and len(token) > 40
    assert key.prefix == token[: len(key.prefix)] and token not in str(key.as_dict())
    found = apikeys.authenticate(app, token)
    assert found is not None and (found.name, found.scope) == ("billing", Scope.READ)
    assert found.last_used_at is not None or apikeys.key(app, "billing").last_used_at is not None
    assert apikeys.authenticate(app, token + "x") is None
    assert apikeys.authenticate(app, "not-even-ours") is None
    apikeys.revoke(app, "billing")
    assert apikeys.authenticate(app, token) is None
    assert apikeys.keys(app) == []
    assert [k.name for k in apikeys.keys(app, revoked=True)] == ["billing"]


def test_upload_keys_are_bound_to_one_vendor_and_others_to_none(app):
    key, _ = apikeys.create(app, "acme-drop", "upload", vendor="acme")
    assert key.vendor == "acme"
    with pytest.raises(UsageError, match="bound to one vendor"):
        apikeys.create(app, "loose", "upload")
    with pytest.raises(UsageError, match="not bound to a vendor"):
        apikeys.create(app, "odd", "read", vendor="acme")
    with pytest.raises(UsageError, match="not a scope"):
        apikeys.create(app, "odd", "write")
    with pytest.raises(UsageError, match="already a key named"):
        apikeys.create(app, "acme-drop", "upload", vendor="acme")
    with pytest.raises(UsageError, match="not a key name"):
        apikeys.create(app, "Bad Name", "read")
    with pytest.raises(RefusedError, match="no key named"):
        apikeys.revoke(app, "nobody")


def test_scopes_allow_what_they_name_and_admin_everything():
    assert Scope.READ.allows(Scope.READ) and not Scope.READ.allows(Scope.UPLOAD)
    assert Scope.UPLOAD.allows(Scope.UPLOAD) and not Scope.UPLOAD.allows(Scope.READ)
    assert all(Scope.ADMIN.allows(s) for s in Scope)
