"""Limits on what one client may ask (docs/http.md#limits): bodies over ``max_body_size``
(413, declared or streamed), request floods (429 with Retry-After, per key)."""

from __future__ import annotations

import time

import pytest

from .conftest import serve
from .test_api import assert_problem, upload


@pytest.fixture
def limited(tmp_path, sqlite_url):
    yield from serve(
        tmp_path, sqlite_url, 'listen = "127.0.0.1:0"\nrate_limit = 60\nmax_body_size = "64KB"'
    )


def test_a_body_over_the_limit_is_413_declared_or_streamed(limited):
    big = b"Destination,Prefix,Rate\r\n" + b"Somewhere,44,0.01\r\n" * 5000  # ~95 KB
    with limited.client("acme-upload") as c:
        answer = upload(c, big)
        body = assert_problem(answer, 413, "body_too_large")
        assert body["limit"] == 64 * 1024

        form = (
            b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="r.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\n" + big + b"\r\n--b0undary--\r\n"
        )

        def chunks():  # no Content-Length (chunked): the server counts as it reads
            for start in range(0, len(form), 8192):
                yield form[start : start + 8192]

        multipart = {"Content-Type": "multipart/form-data; boundary=b0undary"}
        streamed = c.post("/api/v1/decks", content=chunks(), headers=multipart)
        assert_problem(streamed, 413, "body_too_large")
        small = upload(c, big[:2000])
        assert small.status_code == 201, small.text


def test_a_flood_is_429_for_that_client_only(limited):
    with limited.client("reader") as flood, limited.client("admin") as other:
        answers = []
        while len(answers) < 40 and (not answers or answers[-1].status_code == 200):
            answers.append(flood.get("/api/v1/tables"))
        codes = [a.status_code for a in answers]
        assert codes[:10] == [200] * 10  # the burst: a sixth of a minute's 60
        body = assert_problem(answers[-1], 429, "rate_limited")
        assert int(answers[-1].headers["retry-after"]) >= 1 and body["detail"]
        assert other.get("/api/v1/tables").status_code == 200  # another key has its own bucket
        time.sleep(1.1)  # one request a second comes back
        assert flood.get("/api/v1/tables").status_code == 200
