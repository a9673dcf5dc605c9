"""The store on real databases: versions, storage growth, crash safety, locking."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from rig.factories import at, voice
from test_semantics import Policy

from ingestd.db.engine import SCHEMA_REVISION
from ingestd.rates.model import spec_for
from ingestd.rates.records import Provenance
from ingestd.rates.semantics import plan_import
from ingestd.rates.store import Store

RECEIVED = at("2024-05-09 11:33:01")
DAY = timedelta(days=1)


def write(
    store: Store, deck: pl.DataFrame, *, received=RECEIVED, mode="partial", name="default"
) -> int:
    with store.writing("acme", "voice", name) as w:
        plan = plan_import(
            w.current_rows(), deck, kind="voice", mode=mode, received_at=received, policy=Policy()
        )
        return w.write_version(
            plan.inserts, plan.closes, Provenance(mode=mode, received_at=received), {}
        )


def rate_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT COUNT(*) FROM voice_rates").scalar_one()


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()


def test_upgrade_is_idempotent_and_creates_the_views(store):
    assert store.revision() == store.head_revision() == SCHEMA_REVISION
    assert store.upgrade()[0] == store.head_revision()
    names = sa.inspect(store.engine).get_view_names()
    assert {"current_voice_rates", "current_sms_rates", "current_did_numbers"} <= set(names)


def test_versions_keep_history_and_storage_grows_with_changes(store):
    codes = [(str(4400 + i), None, "0.10") for i in range(200)]
    assert write(store, voice(*codes)) == 1
    changed = list(codes)
    changed[0] = ("4400", None, "0.05")  # one decrease
    assert write(store, voice(*changed), received=RECEIVED + timedelta(days=1)) == 2
    assert rate_rows(store) == 201  # not 400
    table = store.find_table("acme")
    v1 = store.rows(table, 1)
    v2 = store.rows(table, 2)
    assert v1.height == 200 and v2.height == 201
    assert str(v1.filter(pl.col("code") == "4400")["price1"][0].normalize()) == "0.1"
    diff = store.diff(table, 1, 2)
    assert diff.counts.get("decrease") == 1 and diff.added.height == 1
    back = store.diff(table, 2, 1)
    assert back.removed.height == 1 and back.added.height == 0


def test_prices_are_exact_decimals_in_the_database(store):
    write(
        store,
        voice(("44", None, "0.1584"), ("33", None, "0.00012345"), ("49", None, "123.4567890123")),
    )
    with store.engine.connect() as conn:
        rows = dict(
            conn.execute(
                sa.text("SELECT prefix, price1 FROM current_voice_rates ORDER BY prefix")
            ).all()
        )
    assert {k: str(v) for k, v in rows.items()} == {
        "33": "0.00012345",
        "44": "0.1584",
        "49": "123.4567890123",
    } or (
        # PostgreSQL/MariaDB return NUMERIC(28,10) with its scale; the value is still exact
        {k: str(v).rstrip("0").rstrip(".") for k, v in rows.items()}
        == {"33": "0.00012345", "44": "0.1584", "49": "123.4567890123"}
    )


def test_current_view_gives_each_row_its_end(store):
    write(store, voice(("44", None, "0.10"), ("44", at("2024-07-01"), "0.12")))
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT prefix, effective_from, effective_to FROM current_voice_rates "
                "WHERE vendor = 'acme' ORDER BY effective_from"
            )
        ).all()
    assert [(r[0], str(r[1])[:19], None if r[2] is None else str(r[2])[:19]) for r in rows] == [
        ("44", "2024-05-09 11:33:01", "2024-07-01 00:00:00"),
        ("44", "2024-07-01 00:00:00", None),
    ]


def test_lookup_longest_prefix_at_an_instant(store):
    write(
        store,
        voice(("44", None, "0.10"), ("447", None, "0.20"), ("4479", at("2024-07-01"), "0.30")),
    )
    table = store.find_table("acme")
    assert store.lookup(table, "+44 7912 345678", at("2024-06-01"))["code"] == "447"
    assert store.lookup(table, "+44 7912 345678", at("2024-07-02"))["code"] == "4479"
    assert store.lookup(table, "+44 20 7946 0000", at("2024-06-01"))["code"] == "44"
    assert store.lookup(table, "+33 1", at("2024-06-01")) is None
    assert store.lookup(table, "+44 7912", at("2024-05-01")) is None  # before anything applied


def test_a_crash_between_rows_and_commit_leaves_the_previous_version(store, db_url, tmp_path):
    write(store, voice(("44", None, "0.10"), ("33", None, "0.10")))
    script = tmp_path / "crash.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os
            from ingestd.rates import store as store_module, writer as writer_module
            from ingestd.rates.records import Provenance
            from ingestd.rates.semantics import plan_import
            from rig.factories import voice, at
            from test_semantics import Policy

            def die(stage):
                if stage == "rows_written":
                    os._exit(17)  # a real process death: no rollback, no cleanup

            writer_module.FAULT_HOOK = die
            s = store_module.Store({db_url!r})
            with s.writing("acme", "voice", "default") as w:
                deck = voice(("44", None, "0.05"), ("49", None, "0.3"))
                plan = plan_import(w.current_rows(), deck, kind="voice", mode="full",
                                   received_at=at("2024-05-10 00:00:00"), policy=Policy())
                w.write_version(plan.inserts, plan.closes, Provenance(), {{}})
            """
        )
    )
    here = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": f"{here.parent}{os.pathsep}{here}"}
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 17, proc.stderr
    table = store.find_table("acme")
    assert table.current_version == 1
    assert [v.number for v in store.versions(table)] == [1]
    assert rate_rows(store) == 2
    rows = store.rows(table)
    assert sorted(rows["code"].to_list()) == ["33", "44"]
    # and the table still takes the next import
    assert write(store, voice(("44", None, "0.05")), received=RECEIVED + timedelta(days=1)) == 2


def test_imports_into_one_table_are_serialized(store):
    write(store, voice(("44", None, "0.10")))
    entered = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first():
        with store.writing("acme", "voice", "default") as w:
            entered.set()
            release.wait(10)
            order.append("first")
            plan = plan_import(
                w.current_rows(),
                voice(("44", None, "0.05")),
                kind="voice",
                mode="partial",
                received_at=RECEIVED + timedelta(days=1),
                policy=Policy(),
            )
            w.write_version(plan.inserts, plan.closes, Provenance(), {})

    def second():
        entered.wait(10)
        with store.writing("acme", "voice", "default") as w:
            order.append("second")
            # it sees the first one's version: it waited for the lock
            assert w.table.current_version == 2

    t1 = threading.Thread(target=first)
    t2 = threading.Thread(target=second)
    t1.start()
    t2.start()
    time.sleep(0.5)
    assert order == []  # the second is blocked while the first holds the table
    release.set()
    t1.join(30)
    t2.join(30)
    assert order == ["first", "second"]


def test_unchanged_100k_deck_adds_no_rate_rows(store):
    n = 100_000
    codes = pl.Series([str(1_000_000 + i) for i in range(n)])
    deck = (
        pl.DataFrame({"code": codes})
        .with_columns(
            effective_from=pl.lit(None, pl.Datetime("us")),
            price1=pl.lit("0.0123").str.to_decimal(scale=10),
            price_n=pl.lit("0.0123").str.to_decimal(scale=10),
            interval1=pl.lit(60, pl.Int32),
            interval_n=pl.lit(60, pl.Int32),
            effective_to=pl.lit(None, pl.Datetime("us")),
            forbidden=pl.lit(False),
            discontinued=pl.lit(False),
            description=pl.lit("somewhere"),
            currency=pl.lit("USD"),
        )
        .cast(spec_for("voice").schema())
    )
    write(store, deck, mode="full")
    assert rate_rows(store) == n
    assert write(store, deck, mode="full", received=RECEIVED + timedelta(days=2)) == 2
    assert rate_rows(store) == n
    table = store.find_table("acme")
    assert [v.rows_added for v in store.versions(table)] == [n, 0]


def test_purge_of_discontinued_codes_is_a_new_version_and_keeps_history(store):
    from ingestd.ingest import purge_discontinued

    write(store, voice(("44", None, "0.10"), ("33", None, "0.10")))
    write(store, voice(("33", None, "0.10", "D")), received=RECEIVED + timedelta(days=1))
    table = store.find_table("acme")
    assert (
        purge_discontinued(store, table, now=RECEIVED + timedelta(days=10), retention_days=90)
        is None
    )
    number = purge_discontinued(store, table, now=RECEIVED + timedelta(days=100), retention_days=90)
    assert number == 3
    table = store.find_table("acme")
    assert store.rows(table)["code"].to_list() == ["44"]
    assert sorted(store.rows(table, 2)["code"].to_list()) == ["33", "33", "44"]
    assert store.versions(table)[-1].origin == "purge"


# --- the rows snapshot (SQLite) ----------------------------------------------------------------


def _current_via_writer(store: Store) -> pl.DataFrame:
    with store.writing("acme", "voice", "default") as w:
        return w.current_rows()


def _snapshot_version(store: Store) -> int | None:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT version FROM rate_snapshots").scalar()


def test_snapshot_holds_exactly_the_latest_rows_and_is_used(sqlite_url):
    store = Store(sqlite_url)
    store.upgrade()
    first = voice(*[(str(4400 + i), None, "0.10") for i in range(50)], ("49", None, "0.2", "F"))
    write(store, first)
    second = voice(
        ("4400", None, "0.05"), ("4401", at("2024-06-01 00:00:00"), "0.30"), ("33", None, "1")
    )
    write(store, second, received=RECEIVED + timedelta(days=1))
    assert _snapshot_version(store) == 2
    table = store.find_table("acme")
    from_rows = store.rows(table)  # always read from the rate rows
    assert _current_via_writer(store).equals(from_rows)
    # the snapshot, not the rows, is what the writer read: a row changed behind ingestd's back
    # without changing ids is not seen (documented: rate rows are written by ingestd only)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE voice_rates SET description = 'edited' WHERE code = '33'")
    assert "edited" not in _current_via_writer(store)["description"].to_list()


def _live_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT COUNT(*) FROM voice_rates WHERE version_to IS NULL"
        ).scalar_one()


def _table_of(n: int, price: str = "0.10", moved: int = 0) -> pl.DataFrame:
    """A full deck of ``n`` codes; the first ``moved`` of them at another price."""
    return voice(*[(str(440000 + i), None, "0.07" if i < moved else price) for i in range(n)])


def _added_and_closed(store: Store) -> list[tuple[int, int]]:
    with store.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT rows_added, rows_closed FROM versions ORDER BY number"
            )
        ]


def test_snapshot_stays_while_few_rows_change_and_the_rows_since_are_read_with_it(
    sqlite_url, monkeypatch
):
    from ingestd.rates import writer as writer_module

    monkeypatch.setattr(writer_module, "SNAPSHOT_DELTA_SHARE", 0.05)  # 20 rows of 400
    store = Store(sqlite_url)
    store.upgrade()
    day = timedelta(days=1)

    def check(version: int, snapshot: int) -> pl.DataFrame:
        table = store.find_table("acme")
        assert table.current_version == version
        current = _current_via_writer(store)
        assert current.equals(store.rows(table))
        assert _snapshot_version(store) == snapshot
        # the version's row total is its live rows, however the writer worked it out
        with store.engine.connect() as conn:
            total = conn.exec_driver_sql(
                f"SELECT rows_total FROM versions WHERE number = {version}"
            ).scalar_one()
        assert total == _live_rows(store) == current.height
        return current

    write(store, _table_of(400), mode="full")
    check(1, snapshot=1)
    write(store, _table_of(400, moved=8), received=RECEIVED + day, mode="full")
    assert _added_and_closed(store)[1] == (8, 0)
    check(2, snapshot=1)  # 8 rows since the snapshot: it stays
    write(store, _table_of(400, moved=20), received=RECEIVED + 2 * day, mode="full")
    assert _added_and_closed(store)[2] == (12, 0)
    check(3, snapshot=1)  # 8 + 12: still within 5%
    # a deck that leaves a code out (a discontinued row) and lowers one more price: over 5%
    write(store, _table_of(400, moved=21).slice(1), received=RECEIVED + 3 * day, mode="full")
    assert _added_and_closed(store)[3] == (2, 0)
    check(4, snapshot=4)
    write(store, voice(("33", None, "0.5")), received=RECEIVED + 4 * day)
    check(5, snapshot=4)

    # the snapshot (not the rows) is read: a row of the snapshot edited behind ingestd's back
    # is not seen, while the rows written since the snapshot are read from the table
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE voice_rates SET description = 'edited' WHERE code IN ('440399', '33')"
        )
    seen = _current_via_writer(store)
    assert seen.filter(pl.col("description") == "edited")["code"].to_list() == ["33"]


@pytest.mark.parametrize(
    "outside",
    [
        "DELETE FROM voice_rates WHERE code = '4410'",
        "UPDATE voice_rates SET version_to = 2 WHERE code = '4411'",
        "INSERT INTO voice_rates (table_id, version_from, code, effective_from, price1, price_n,"
        " interval1, interval_n, forbidden, discontinued, change_class)"
        " SELECT table_id, version_from, '999', effective_from, price1, price_n, interval1,"
        " interval_n, forbidden, discontinued, change_class FROM voice_rates LIMIT 1",
    ],
)
@pytest.mark.parametrize("rows_since", [False, True])
def test_snapshot_is_not_trusted_once_the_rows_differ(sqlite_url, outside, rows_since, monkeypatch):
    from ingestd.rates import writer as writer_module

    monkeypatch.setattr(writer_module, "SNAPSHOT_DELTA_SHARE", 0.5)
    store = Store(sqlite_url)
    store.upgrade()
    write(store, voice(*[(str(4400 + i), None, "0.10") for i in range(20)]))
    if rows_since:  # the snapshot of version 1 and the rows of version 2
        write(store, voice(("4410", None, "0.05"), ("33", None, "1")), received=RECEIVED + DAY)
        assert _snapshot_version(store) == 1
    with store.engine.begin() as conn:
        conn.exec_driver_sql(outside)
    table = store.find_table("acme")
    assert _current_via_writer(store).equals(store.rows(table))


def test_rollback_drops_the_snapshot_and_the_next_import_is_right(sqlite_url):
    from ingestd.ingest import rollback

    store = Store(sqlite_url)
    store.upgrade()
    write(store, voice(("44", None, "0.10"), ("49", None, "0.20")))
    write(store, voice(("44", None, "0.15")), received=RECEIVED + timedelta(days=10))
    table = store.find_table("acme")
    rollback(store, table, 1)
    table = store.find_table("acme")
    assert _current_via_writer(store).equals(store.rows(table))
    write(store, voice(("49", None, "0.25")), received=RECEIVED + timedelta(days=20))
    table = store.find_table("acme")
    assert _current_via_writer(store).equals(store.rows(table))
    assert _snapshot_version(store) == table.current_version


def test_a_postgresql_server_that_never_answers_fails_the_connect_in_bounded_time(monkeypatch):
    """A server that takes the connection but never speaks (a black hole, a hung host) ends
    the attempt after the connect timeout instead of hanging the daemon's worker."""
    import socket

    import ingestd.db.engine as engine_module

    pytest.importorskip("psycopg")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the handshake completes in the backlog; nothing is ever said
    port = silent.getsockname()[1]
    monkeypatch.setattr(engine_module, "CONNECT_TIMEOUT", 1)
    try:
        engine = engine_module.make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
        failed: list[BaseException] = []

        def connect() -> None:
            try:
                engine.connect()
            except BaseException as e:  # the thread reports whatever ended the attempt
                failed.append(e)

        attempt = threading.Thread(target=connect, daemon=True)
        attempt.start()
        attempt.join(6)
        assert not attempt.is_alive(), "the connection attempt is still waiting"
        assert failed and isinstance(failed[0], sa.exc.OperationalError), failed
    finally:
        silent.close()


# --- rows read ahead (before the lock) -----------------------------------------------------------


def test_rows_read_ahead_serve_only_the_version_they_were_read_at(store):
    from ingestd.rates.writer import RowsAhead

    write(store, voice(*[(str(4400 + i), None, "0.10") for i in range(30)]))
    assert RowsAhead(store, "acme", "voice", "other").take(store.find_table("acme")) is None
    ahead = RowsAhead(store, "acme", "voice", "default")
    with store.writing("acme", "voice", "default") as w:
        assert w.current_rows(ahead).equals(store.rows(store.find_table("acme")))
    assert ahead.take(store.find_table("acme")) is None  # taken once
    # another version is written after the rows were read ahead: they are not used
    ahead = RowsAhead(store, "acme", "voice", "default")
    ahead._thread.join()
    write(store, voice(("4400", None, "0.05"), ("33", None, "1")), received=RECEIVED + DAY)
    table = store.find_table("acme")
    assert ahead.take(table) is None
    with store.writing("acme", "voice", "default") as w:
        assert w.current_rows(ahead).equals(store.rows(table))


def test_an_import_uses_the_rows_read_while_its_deck_was_read(sqlite_url, monkeypatch):
    """ingestd import reads the table's rows on another thread while it reads the deck: a
    row edited behind ingestd's back after that read (and before the lock) is not seen."""
    from ingestd.config import load_config
    from ingestd.ingest import import_sheet
    from ingestd.rates import writer as writer_module

    monkeypatch.setattr(writer_module, "SNAPSHOT_DELTA_SHARE", 0.5)
    store = Store(sqlite_url)
    store.upgrade()
    write(store, voice(*[(str(4400 + i), None, "0.10") for i in range(30)]))
    write(store, voice(("33", None, "1")), received=RECEIVED + DAY)  # a row since the snapshot
    config = load_config(None)
    deck = b"Code,Rate\n33,1\n4400,0.2\n"
    edits = []
    read = writer_module.RowsAhead._read

    def read_then_edit(self, *args):
        read(self, *args)  # the rows as they are, then an edit before the import's lock
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE voice_rates SET description = 'edited' WHERE code = '33'")
        edits.append(self._result[1])

    monkeypatch.setattr(writer_module.RowsAhead, "_read", read_then_edit)
    seen = []
    plan = writer_module.Writer.current_rows

    def spy(self, ahead=None):
        rows = plan(self, ahead)
        seen.append(rows.filter(pl.col("code") == "33")["description"].to_list())
        return rows

    monkeypatch.setattr(writer_module.Writer, "current_rows", spy)
    result = import_sheet(
        store, config, "acme", deck, file_name="acme.csv", received_at=RECEIVED + 2 * DAY
    )
    assert result.status == "imported", result.message
    assert edits == [2] and seen == [["dest 33"]]
    # the edit is there for whoever reads the rows now
    rows = store.rows(store.find_table("acme"))
    assert "edited" in rows.filter(pl.col("code") == "33")["description"].to_list()


def test_proven_readings_are_the_latest_each_of_the_vendors_imports_proved(db_url):
    """What a vendor's earlier decks proved (the date order, the meaning of hyphens) is read
    from the JSON of their summaries by the database itself, on every dialect."""
    import datetime as dt

    from ingestd.config import load_config
    from ingestd.ingest import import_file, rollback
    from ingestd.sheets.doubt import Proven

    store = Store(db_url)
    store.upgrade()
    config = load_config(None, env={})
    day = dt.datetime(2023, 12, 1)

    def send(vendor: str, deck: bytes, name: str, received: dt.datetime):
        (outcome,) = import_file(
            store, config, vendor, deck, file_name=name, received_at=received, mode="partial"
        )
        assert outcome.status == "imported", outcome.as_dict()
        return outcome

    try:
        assert store.proven_readings("v") == {}
        send("v", b"Prefix,Rate,Effective\n44,0.1,12/25/2023\n", "a.csv", day)  # month first
        send("v", b"Code,Rate\n3361-3363,0.1\n", "b.csv", day + dt.timedelta(days=1))
        send("v", b"Prefix,Rate,Effective\n44,0.2,25/12/2023\n", "c.csv", day + dt.timedelta(2))
        table = store.find_table("v")
        rollback(store, table, 1)  # a later version, but no import: it proves nothing
        proven = store.proven_readings("v")
        assert proven == {
            "date_order": Proven("dmy", "v/voice/default version 3"),
            "hyphen": Proven("range", "v/voice/default version 2"),
        }
        assert store.proven_readings("w") == {}  # another vendor learned nothing
    finally:
        store.close()


def test_rows_in_parts_add_up_to_the_version_and_keep_a_codes_rows_together(store):
    """Streaming reads (the API's CSV): parts of a few rows by code, on every database."""
    later = "2024-06-01 00:00:00"
    deck = [(str(4400 + i), None, "0.10") for i in range(11)]
    deck += [
        ("4403", at(later), "0.20"),
        ("4407", at(later), "0.30"),
        ("4407", at("2024-07-01 00:00:00"), "0.40"),
    ]  # codes with several dated rows
    write(store, voice(*deck))
    write(store, voice(("4499", None, "0.5")), received=RECEIVED + DAY)
    table = store.find_table("acme")
    for version in (None, 1):
        whole = store.rows(table, version)
        for size in (1, 3, 5, 100):
            parts = list(store.rows_in_parts(table, version, rows=size))
            assert pl.concat(parts).equals(whole), (version, size)
            codes = [set(p["code"]) for p in parts]
            assert all(a.isdisjoint(b) for i, a in enumerate(codes) for b in codes[i + 1 :])
            if size == 1:
                assert len(parts) == whole["code"].n_unique()
    assert whole.height == 14  # version 1: 11 codes, 4403 and 4407 with later rates


def test_rows_of_codes_are_the_versions_rows_of_those_codes(store, monkeypatch):
    """What a change list reads of the version before it (``rows_of_codes``): the rows still
    open and the ones closed later, of the codes asked only, in chunks, on every database."""
    import ingestd.rates.rows

    deck = [(str(4400 + i), None, "0.10") for i in range(9)]
    deck += [("4403", at("2024-06-01 00:00:00"), "0.20")]
    write(store, voice(*deck))
    # version 2 discontinues 4401 (a full deck without it) and changes 4402: version 1's rows
    # of them are closed after version 1 and must still be found
    full = [(str(4400 + i), None, "0.10") for i in range(9) if i != 1]
    full[1] = ("4402", None, "0.15")
    write(store, voice(*full), received=RECEIVED + DAY, mode="full")
    table = store.find_table("acme")
    monkeypatch.setattr(ingestd.rates.rows, "CODES_PER_QUERY", 2)
    for version in (1, 2):
        whole = store.rows(table, version)
        asked = ["4401", "4402", "4403", "4499", "4408"]
        found = store.rows_of_codes(table, version, asked)
        assert found.equals(whole.filter(pl.col("code").is_in(asked))), version
    assert store.rows_of_codes(table, 1, ["4401"])["price1"].to_list() == [Decimal("0.1")]
    assert store.rows_of_codes(table, 2, ["4401"])["discontinued"].any()  # the full deck's
    assert store.rows_of_codes(table, 1, []).is_empty()
