"""ingestd's HTTP server for the API tests (docs/testing.md#real-components): the real
``HttpServer`` (uvicorn) on a free port of 127.0.0.1, on an event loop of its own in a thread,
over an app opened on the test's configuration; httpx is the client.

    with Served(config) as served:
        httpx.get(served.url + "/healthz")
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import zipfile
from xml.sax.saxutils import escape

import openpyxl
import xlwt

from ingestd.config import Config
from ingestd.service import App
from ingestd.web.server import HttpServer
from rig.hostile import ods_row, ods_workbook


class Served:
    def __init__(self, config: Config):
        assert config.http.listen, "the configuration must have [http] listen"
        self.config = config
        self.stack = contextlib.ExitStack()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="http-test", daemon=True)

    def __enter__(self) -> Served:
        self.app = self.stack.enter_context(App.open(self.config, deliver=False))
        self.server = HttpServer(self.config, self.app)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.url = f"http://127.0.0.1:{self.server.port}"
        return self

    def __exit__(self, *exc) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(5), self.loop).result(15)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            if not self.thread.is_alive():
                self.loop.close()
            self.stack.close()


# --- one deck in every format a vendor may send -------------------------------------------------


def grid_csv(grid: list[list[str]]) -> bytes:
    return ("\r\n".join(",".join(row) for row in grid) + "\r\n").encode()


def grid_xlsx(grid: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    for row in grid:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def grid_xls(grid: list[list[str]]) -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Rates")
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            sheet.write(y, x, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def grid_ods(grid: list[list[str]]) -> bytes:
    cells = (
        "".join(
            f'<table:table-cell office:value-type="string"><text:p>{escape(v)}</text:p>'
            "</table:table-cell>"
            for v in row
        )
        for row in grid
    )
    return ods_workbook(("Rates", "".join(ods_row(c) for c in cells)))


def grid_zip(grid: list[list[str]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("rates.xlsx", grid_xlsx(grid))
    return out.getvalue()


FORMATS = {"csv": grid_csv, "xlsx": grid_xlsx, "xls": grid_xls, "ods": grid_ods, "zip": grid_zip}
