"""HTTPS when ``[http]`` names a certificate (docs/http.md#server): the real server with a
certificate made by openssl, a client that trusts only that certificate."""

from __future__ import annotations

import ssl

import httpx
import pytest
from rig.http import Served
from rig.mail import make_config
from rig.smtp import self_signed_certificate

from ingestd.config import ConfigError
from ingestd.service.status import check_http


def test_https_with_the_configured_certificate(tmp_path, sqlite_url):
    cert, key = self_signed_certificate(tmp_path)
    http = f'listen = "127.0.0.1:0"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"'
    config = make_config(tmp_path, db_url=sqlite_url, http=http)
    assert check_http(config) == {"serving": True, "listen": "127.0.0.1:0", "tls": True}
    with Served(config) as served:
        url = served.url.replace("http://", "https://")
        trusting = ssl.create_default_context(cafile=str(cert))
        assert httpx.get(url + "/healthz", verify=trusting).json() == {"status": "ok"}
        with pytest.raises(httpx.HTTPError):
            httpx.get(served.url + "/healthz", timeout=5)  # plain HTTP on the TLS port


def test_certificate_problems_are_configuration_errors(tmp_path, sqlite_url):
    cert, key = self_signed_certificate(tmp_path)
    with pytest.raises(ConfigError, match="tls_cert_file and tls_key_file go together"):
        make_config(tmp_path, http=f'listen = "127.0.0.1:0"\ntls_cert_file = "{cert}"')
    config = make_config(
        tmp_path, http=f'listen = "127.0.0.1:0"\ntls_cert_file = "{key}"\ntls_key_file = "{key}"'
    )
    assert "cannot be used" in check_http(config)["error"]
