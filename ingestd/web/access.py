"""Who is asking (docs/http.md#keys): ``Authorization: Bearer <token>`` names an API key; a
route asks for a scope, and an upload key only ever speaks for its own vendor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ingestd.service import apikeys
from ingestd.service.apikeys import ApiKey, Scope
from ingestd.service.app import App
from ingestd.web.problems import Problem

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ingestd"'}


def application(request: Request) -> App:
    return request.app.state.ingestd


def presented_key(request: Request) -> ApiKey:
    """The live key of the request's bearer token; 401 without one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "an API key is required: Authorization: Bearer <token>",
                      kind="unauthorized", headers=CHALLENGE)  # fmt: skip
    key = apikeys.authenticate(application(request), token.strip())
    if key is None:
        raise Problem(401, "the API key is unknown or revoked", kind="unauthorized",
                      headers=CHALLENGE)  # fmt: skip
    request.state.key = key
    return key


def requires(scope: Scope):
    """A dependency: the request's key, which must allow ``scope`` (403 otherwise)."""

    def check(key: Annotated[ApiKey, Depends(presented_key)]) -> ApiKey:
        if not key.scope.allows(scope):
            raise Problem(403, f"the key {key.name!r} ({key.scope}) may not {scope}",
                          kind="forbidden")  # fmt: skip
        return key

    return check


def vendor_for_upload(key: ApiKey, named: str | None) -> str:
    """The vendor an upload is for: an upload key's own (naming another is 403), an admin key's
    named one."""
    if key.scope is Scope.UPLOAD:
        if named is not None and named != key.vendor:
            raise Problem(403, f"the key {key.name!r} uploads for {key.vendor!r} only, "
                          f"not for {named!r}", kind="forbidden")  # fmt: skip
        assert key.vendor is not None
        return key.vendor
    if named is None:
        raise Problem(422, "name the vendor of the deck (form field 'vendor')",
                      kind="invalid_request")  # fmt: skip
    return named
