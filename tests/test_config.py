"""ingestd.config: defaults, the shipped example, every kind of mistake, environment overrides,
vendors.d, vendor policy overrides, durations and sizes."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestd.config import (
    Config,
    ConfigError,
    DnsConfig,
    ImapAccount,
    Limits,
    NotifyConfig,
    Policy,
    SmtpConfig,
    Subscriber,
    TableRule,
    Vendor,
    default_config_path,
    describe,
    format_duration,
    format_size,
    load_config,
    mask_url,
    name_problem,
    parse_duration,
    parse_size,
)
from ingestd.rates.model import ChangeClass

EXAMPLE = Path(__file__).parents[1] / "config/ingestd.toml"
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # relative paths resolve against the working directory; keep them inside tmp_path
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "ingestd.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, text), env=env or {})


def error_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, env)
    return caught.value


# --- defaults and the shipped example ---------------------------------------------------------


def test_builtin_defaults(tmp_path: Path) -> None:
    config = load_config(None, env={})
    assert config.path is None
    assert config.daemon.state_dir == tmp_path / "var"
    assert config.daemon.log_format == "kv" and config.daemon.log_level == "info"
    assert config.daemon.sheet_cache_size == 2 * 1024 * MB
    assert config.database.url == f"sqlite:///{tmp_path}/var/ingestd.db"
    assert config.database.url.startswith("sqlite:////")  # absolute: four slashes
    assert config.smtp.listen == "127.0.0.1:2525"
    assert config.smtp.listen_address == ("127.0.0.1", 2525)
    assert config.smtp.max_message_size == 50 * MB
    assert config.smtp.max_sessions == 50
    assert config.imap == ()
    assert config.dns.nameservers == () and config.dns.timeout == 5.0
    assert config.outbound.transport == "file"
    assert config.outbound.dir == tmp_path / "var" / "outbox"
    assert config.outbound.from_addr == "Rates Desk <rates@localhost>"
    assert config.policy.notice_for("increase") == timedelta(days=7)
    assert config.policy.notice_for("interval_change") == timedelta(days=7)
    assert config.policy.notice_for("decrease") == timedelta(0)
    assert config.policy.short_notice == "defer"
    assert config.policy.max_rejected_share == 0.05
    assert config.limits == Limits()
    assert config.limits.max_unpacked_size == 200 * MB and config.limits.max_rows == 2_000_000
    assert config.limits.max_sheets_per_message == 50
    assert config.limits.max_mime_parts == 10_000
    assert config.vendors == ()


def test_default_config_path(tmp_path: Path) -> None:
    assert default_config_path({}) is None
    assert default_config_path({"INGESTD_CONFIG": "/etc/ingestd.toml"}) == Path("/etc/ingestd.toml")
    write(tmp_path, "", "config/ingestd.toml")
    assert default_config_path({}) == Path("config/ingestd.toml")
    # the variable wins over the working directory's file
    assert default_config_path({"INGESTD_CONFIG": "other.toml"}) == Path("other.toml")


def test_load_without_path_reads_the_default_file(tmp_path: Path) -> None:
    write(tmp_path, '[smtp]\nlisten = "127.0.0.1:2600"\n', "config/ingestd.toml")
    assert load_config(None, env={}).smtp.listen == "127.0.0.1:2600"
    assert load_config(None, env={}).path == tmp_path / "config/ingestd.toml"
    other = write(tmp_path, '[smtp]\nlisten = "127.0.0.1:2700"\n', "other.toml")
    assert load_config(None, env={"INGESTD_CONFIG": str(other)}).smtp.listen == "127.0.0.1:2700"


def test_missing_file_named_by_the_variable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, env={"INGESTD_CONFIG": "nowhere.toml"})
    assert (
        str(caught.value)
        == "nowhere.toml: cannot read the configuration: No such file or directory"
    )
    assert caught.value.file == "nowhere.toml"


def test_shipped_example_loads(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, env={})
    assert config.path == EXAMPLE
    assert config.database.url == f"sqlite:///{tmp_path}/var/ingestd.db"
    assert config.smtp.listen == "127.0.0.1:2525"
    assert config.outbound.transport == "file"
    assert config.outbound.dir == tmp_path / "var/outbox"
    demo = config.vendor("demo")
    assert demo.known and demo.name == "Demo Carrier"
    assert demo.senders == ("@demo-carrier.example",)
    assert demo.dkim_domains == ("demo-carrier.example",)
    # the key the bundled sample mail is signed with (scripts/make-sample-mail)
    assert list(demo.dkim_keys) == ["demo2026._domainkey.demo-carrier.example"]
    assert demo.dkim_keys["demo2026._domainkey.demo-carrier.example"].startswith("v=DKIM1; k=rsa")
    assert (demo.timezone, demo.currency) == ("UTC", "USD")
    assert demo.tables == (
        TableRule(
            name="premium",
            kind="voice",
            mode="partial",
            match_filename="*Premium*",
            match_subject="(?i)premium",
        ),
    )


def test_shipped_example_shows_the_builtin_defaults() -> None:
    # the example documents the defaults: apart from its vendor it must equal no file at all
    example = load_config(EXAMPLE, env={})
    builtin = load_config(None, env={})
    for section in ("daemon", "database", "smtp", "imap", "dns", "outbound", "notify"):
        assert getattr(example, section) == getattr(builtin, section), section
    assert example.policy == builtin.policy
    assert example.limits == builtin.limits


def test_commented_options_of_the_example_are_valid(tmp_path: Path) -> None:
    # uncomment every commented option line: the documented spellings must load
    option = re.compile(r"# (\[\[?[a-z.]+\]\]?(\s|$)|[a-z_]+ = |    [\"{]|\])")
    lines = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line == "price_change_subscribers = []":
            continue  # its commented example replaces it
        lines.append(line[2:] if option.match(line) else line)
    config = load(tmp_path, "\n".join(lines))
    assert config.imap[0].name == "vendor-mailbox" and config.imap[0].port == 993
    assert config.outbound.dkim_selector == "ingestd"
    assert config.smtp.tls_cert_file == Path("/etc/ingestd/tls/cert.pem")
    assert config.notify.price_change_subscribers[1] == Subscriber(
        "noc@carrier.example", "demo", "premium"
    )
    demo = config.vendor("demo")
    assert demo.policy.notice_for("increase") == timedelta(hours=24)
    assert demo.increment_rules["Fiji*"] == (60, 60)
    assert demo.columns == {"Dest Code": "code", "Cost": "price1"}
    assert "demo2026._domainkey.demo-carrier.example" in demo.dkim_keys


# --- mistakes ---------------------------------------------------------------------------------


def test_enum_error_names_file_key_and_allowed_values(tmp_path: Path) -> None:
    path = write(tmp_path, '[policy]\nshort_notice = "later"\n', "config/ingestd.toml")
    with pytest.raises(ConfigError) as caught:
        load_config("config/ingestd.toml", env={})
    assert str(caught.value) == (
        "config/ingestd.toml: policy.short_notice: 'later' is not allowed; "
        "allowed: defer, reject, accept"
    )
    assert caught.value.file == "config/ingestd.toml"
    assert caught.value.key == "policy.short_notice"
    assert path.exists()


def test_unknown_key_suggests_and_lists_allowed(tmp_path: Path) -> None:
    e = error_of(tmp_path, "[policy]\nnotice_hour = { increase = 1 }\n")
    assert e.key == "policy.notice_hour"
    assert "unknown key (did you mean notice_hours?)" in str(e)
    assert "allowed: notice_hours, short_notice, max_rejected_share" in str(e)
    assert str(e).startswith(f"{tmp_path}/ingestd.toml: policy.notice_hour: ")


def test_unknown_section(tmp_path: Path) -> None:
    e = error_of(tmp_path, '[polcy]\nshort_notice = "defer"\n')
    assert e.key == "polcy"
    assert "unknown key (did you mean policy?); allowed: daemon, database, smtp, imap" in str(e)


def test_unknown_notice_class(tmp_path: Path) -> None:
    e = error_of(tmp_path, "[policy]\nnotice_hours = { increse = 1 }\n")
    assert e.key == "policy.notice_hours.increse"
    assert "did you mean increase?" in str(e)
    assert "allowed: increase, decrease, new, removal, interval_change" in str(e)


def test_wrong_type(tmp_path: Path) -> None:
    e = error_of(tmp_path, '[smtp]\nmax_sessions = "fifty"\n')
    assert str(e) == f"{tmp_path}/ingestd.toml: smtp.max_sessions: expected an integer, got 'fifty'"


def test_deep_vendor_key_is_named_with_indexes(tmp_path: Path) -> None:
    text = "".join(f'[[vendors]]\nid = "v{i}"\n' for i in range(3))
    text += '[[vendors.tables]]\nname = "t"\nkind = "fax"\n'
    e = error_of(tmp_path, text)
    assert e.key == "vendors[2].tables[0].kind"
    assert "'fax' is not allowed; allowed: voice, sms, did, auto" in str(e)


def test_missing_vendor_id(tmp_path: Path) -> None:
    e = error_of(tmp_path, '[[vendors]]\nname = "No Id"\n')
    assert e.key == "vendors[0].id"
    assert "missing; this key is required" in str(e)


def test_inline_password_is_refused(tmp_path: Path) -> None:
    e = error_of(
        tmp_path,
        '[[imap]]\nname = "m"\nhost = "imap.x.example"\nusername = "u"\npassword = "hunter2"\n',
    )
    assert e.key == "imap[0].password"
    assert "use password_file" in str(e) and "password_env" in str(e)
    assert "hunter2" not in str(e)


def test_imap_account_needs_a_secret_source(tmp_path: Path) -> None:
    e = error_of(tmp_path, '[[imap]]\nname = "m"\nhost = "imap.x.example"\nusername = "u"\n')
    assert e.key == "imap[0].password_file"
    assert "missing" in str(e) and "password_env" in str(e)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[daemon]\nlog_level = "INFO"\n', "daemon.log_level",
         "'INFO' is not allowed; allowed: debug, info, warning, error"),
        ('[daemon]\nsheet_cache_size = "-1"\n', "daemon.sheet_cache_size",
         "expected a size like 512KB"),
        ('[database]\nurl = "oracle://x/y"\n', "database.url",
         "database 'oracle' is not supported; allowed: sqlite, postgresql, mysql, mariadb"),
        ('[database]\nurl = "var/ingestd.db"\n', "database.url", "is not an SQLAlchemy URL"),
        ('[smtp]\nlisten = "localhost"\n', "smtp.listen", "is not host:port"),
        ('[smtp]\nlisten = "127.0.0.1:99999"\n', "smtp.listen", "is not host:port"),
        ('[smtp]\nmax_message_size = "50XB"\n', "smtp.max_message_size",
         "unknown unit 'XB'; allowed: B, KB, MB, GB, TB"),
        ("[smtp]\nmax_sessions = 0\n", "smtp.max_sessions",
         "0 is out of range; allowed: at least 1"),
        ('[smtp]\nrecipients = ["rates@x.example", "nobody"]\n', "smtp.recipients[1]",
         "'nobody' is not an e-mail address"),
        ('[smtp]\nrecipients = "rates@x.example"\n', "smtp.recipients",
         "expected a list, got 'rates@x.example'"),
        ('[smtp]\ntls_cert_file = "c.pem"\n', "smtp.tls_key_file", "set both"),
        ("[smtp]\nrequire_starttls = true\n", "smtp.require_starttls", "needs tls_cert_file"),
        ('[smtp]\nrequire_starttls = "yes"\n', "smtp.require_starttls",
         "expected true or false, got 'yes'"),
        ('[dns]\nnameservers = ["dns.example"]\n', "dns.nameservers[0]",
         "is not an IP address or ip:port"),
        ('[dns]\ntimeout = "5x"\n', "dns.timeout", "unknown unit 'x'; allowed: ms, s, m, h, d"),
        ('[dns]\ntimeout = "0s"\n', "dns.timeout", "is too short; allowed: more than 0s"),
        ('[outbound]\ntransport = "smtp"\n', "outbound.host", "needs the relay host"),
        ('[outbound]\ndkim_domain = "x.example"\n', "outbound.dkim_selector",
         "needs dkim_domain, dkim_selector and dkim_key_file"),
        ('[outbound]\nfrom = "Rates Desk"\n', "outbound.from", "is not a From address"),
        ('[outbound]\nusername = "u"\n', "outbound.password_file", "missing for username 'u'"),
        ('[outbound]\npassword_file = "p"\npassword_env = "P"\n', "outbound.password_env",
         "not both"),
        ("[outbound]\nmax_per_recipient_per_day = 0\n", "outbound.max_per_recipient_per_day",
         "0 is out of range; allowed: at least 1"),
        ('[notify]\nunauthenticated_digest = "500ms"\n', "notify.unauthenticated_digest",
         "is too short"),
        ('[notify]\nunauthenticated_digest = "2d"\n', "notify.unauthenticated_digest",
         "'2d' is too long; allowed: at most 1d"),
        ('[notify]\nunauthenticated_digest = "hourly"\n', "notify.unauthenticated_digest",
         "expected a duration"),
        ("[notify]\nreports_per_message = 0\n", "notify.reports_per_message",
         "0 is out of range; allowed: at least 1"),
        ("[policy]\nmax_rejected_share = 5\n", "policy.max_rejected_share",
         "5 is out of range; allowed: 0 to 1"),
        ("[policy]\nmax_price_factor = 1\n", "policy.max_price_factor",
         "too small; allowed: more than 1"),
        ('[policy]\nnotice_hours = { increase = "7d" }\n', "policy.notice_hours.increase",
         "expected a number, got '7d'"),
        ("[policy]\nnotice_hours = 168\n", "policy.notice_hours", "expected a table, got 168"),
        ("[limits]\nmax_rows = 1.5\n", "limits.max_rows", "expected an integer, got 1.5"),
        ("[limits]\nmax_file_size = 1.5\n", "limits.max_file_size", "expected a size"),
        ("[limits]\nmax_sheets_per_message = 0\n", "limits.max_sheets_per_message",
         "0 is out of range; allowed: at least 1"),
        ('[limits]\nmax_sheets_per_message = "many"\n', "limits.max_sheets_per_message",
         "expected an integer"),
        ("[limits]\nmax_mime_parts = 0\n", "limits.max_mime_parts",
         "0 is out of range; allowed: at least 1"),
        ('[[vendors]]\nid = "Acme"\n', "vendors[0].id", "'Acme' is not an id"),
        ('[[vendors]]\nid = "a"\ntimezone = "Mars/Olympus"\n', "vendors[0].timezone",
         "is not an IANA time zone"),
        ('[[vendors]]\nid = "a"\ncurrency = "usd"\n', "vendors[0].currency",
         "allowed: 3 upper-case letters"),
        ('[[vendors]]\nid = "a"\nsenders = ["acme.example"]\n', "vendors[0].senders[0]",
         "or a domain (@acme.example)"),
        ('[[vendors]]\nid = "a"\ndefault_intervals = "60-60"\n', "vendors[0].default_intervals",
         'allowed: "60/60" or [60, 60]'),
        ('[[vendors]]\nid = "a"\nincrement_rules = { "Fiji Mobile" = [60] }\n',
         'vendors[0].increment_rules."Fiji Mobile"', "is not intervals"),
        ('[[vendors]]\nid = "a"\ndkim_keys = { "acme.example" = "p=abc" }\n',
         'vendors[0].dkim_keys."acme.example"', "is not a key name like"),
        ('[[vendors]]\nid = "a"\ndkim_keys = { "s._domainkey.a.example" = "v=DKIM1" }\n',
         'vendors[0].dkim_keys."s._domainkey.a.example"', "is not a DKIM key record"),
        ('[outbound]\npassword_env = "1BAD"\n', "outbound.password_env",
         "'1BAD' is not an environment variable name"),
        ('[[vendors]]\nid = "a"\ndate_order = "dm"\n', "vendors[0].date_order",
         "allowed: auto, dmy, mdy, ymd"),
        ('[[vendors]]\nid = "a"\n[[vendors.tables]]\nname = "t"\nmatch = { subject = "(" }\n',
         "vendors[0].tables[0].match.subject", "is not a valid regular expression"),
        ('[[vendors]]\nid = "a"\n[[vendors.tables]]\nname = "t"\nmatch = { file = "*" }\n',
         "vendors[0].tables[0].match.file",
         "unknown key (did you mean filename?); allowed: filename, subject, sheet"),
        ('[[vendors]]\nid = "a"\n[vendors.policy]\nshort_notice = "never"\n',
         "vendors[0].policy.short_notice", "allowed: defer, reject, accept"),
        ('[notify]\nprice_change_subscribers = [{ vendor = "a" }]\n',
         "notify.price_change_subscribers[0].address", "missing"),
        ('[notify]\nprice_change_subscribers = [{ address = "n@x.example", vendor = "acm" }]\n'
         '[[vendors]]\nid = "acme"\n',
         "notify.price_change_subscribers[0].vendor",
         "'acm' is not a configured vendor; configured: acme"),
        ('[[imap]]\nname = "m"\nhost = "h"\nusername = "u"\npassword_env = "P"\n'
         'idle_renew = "30m"\n',
         "imap[0].idle_renew", "is too long; allowed: at most 29m"),
        ('[[imap]]\nname = "m"\nhost = "h"\nusername = "u"\npassword_env = "P"\n'
         '[[imap]]\nname = "m"\nhost = "h2"\nusername = "u"\npassword_env = "P"\n',
         "imap[1].name", "duplicate imap account 'm'; already defined at"),
        ('[imap]\nname = "m"\n', "imap", "expected an array of tables ([[imap]]), got a table"),
        ('smtp = "127.0.0.1:25"\n', "smtp", "expected a table [smtp], got '127.0.0.1:25'"),
        # vendor ids and table names: one rule, as long as the database's columns (64)
        (f'[[vendors]]\nid = "{"a" * 65}"\n', "vendors[0].id",
         "is too long for an id: 65 characters, at most 64"),
        ('[[vendors]]\nid = "a"\n[[vendors.tables]]\nname = "../../etc"\n',
         "vendors[0].tables[0].name", "'../../etc' is not a table name; allowed: a-z 0-9"),
        ('[[vendors]]\nid = "a"\n[[vendors.tables]]\nname = "a/b"\n',
         "vendors[0].tables[0].name", "'a/b' is not a table name"),
        ('[[vendors]]\nid = "a"\n[[vendors.tables]]\nname = " "\n',
         "vendors[0].tables[0].name", "' ' is not a table name"),
        ('[[vendors]]\nid = "a"\n[[vendors.tables]]\nname = "\\t"\n',
         "vendors[0].tables[0].name", "'\\t' is not a table name"),
        (f'[[vendors]]\nid = "a"\n[[vendors.tables]]\nname = "{"t" * 300}"\n',
         "vendors[0].tables[0].name", "is too long for a table name: 300 characters"),
        ('[notify]\nprice_change_subscribers = [{ address = "n@x.example", table = "A B" }]\n',
         "notify.price_change_subscribers[0].table", "'A B' is not a table name"),
    ],
)  # fmt: skip
def test_error_messages(tmp_path: Path, text: str, key: str, message: str) -> None:
    e = error_of(tmp_path, text)
    assert e.key == key
    assert e.file == f"{tmp_path}/ingestd.toml"
    assert message in e.message
    assert str(e) == f"{e.file}: {key}: {e.message}"


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    e = error_of(tmp_path, "[smtp\nlisten = 1\n")
    assert e.file == f"{tmp_path}/ingestd.toml" and e.key is None
    assert "not valid TOML" in str(e) and "line 1" in str(e)


# --- environment overrides --------------------------------------------------------------------


def test_env_overrides_convert_types(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[smtp]\nmax_sessions = 10\n",
        env={
            "INGESTD_SMTP_MAX_SESSIONS": "7",
            "INGESTD_SMTP_MAX_MESSAGE_SIZE": "1.5MB",
            "INGESTD_SMTP_RECIPIENTS": "a@x.example, B@Y.example,",
            "INGESTD_SMTP_LISTEN": "",
            "INGESTD_DNS_TIMEOUT": "500ms",
            "INGESTD_DNS_NAMESERVERS": "127.0.0.1:5353",
            "INGESTD_POLICY_SHORT_NOTICE": "reject",
            "INGESTD_POLICY_MAX_PRICE_FACTOR": "3.5",
            "INGESTD_POLICY_NOTICE_HOURS_DECREASE": "12",
            "INGESTD_OUTBOUND_FROM": "Desk <desk@x.example>",
            "INGESTD_DATABASE_URL": "postgresql+psycopg://ingestd@db/ingestd",
            "INGESTD_LIMITS_MAX_ROWS": "1000",
            "INGESTD_LIMITS_MAX_SHEETS_PER_MESSAGE": "5",
            "INGESTD_LIMITS_MAX_MIME_PARTS": "500",
            "INGESTD_DAEMON_SHEET_CACHE_SIZE": "0",
            "INGESTD_NOTIFY_RATES_TEAM": "team@x.example",
            "INGESTD_NOTIFY_UNAUTHENTICATED_DIGEST": "15m",
            "INGESTD_NOTIFY_REPORTS_PER_MESSAGE": "3",
            "INGESTD_CONFIG": "ignored-here.toml",  # not an option: never an override
            "INGESTD_SOMETHING_ELSE": "x",  # not a section: left to whoever owns it
        },
    )
    assert config.smtp.max_sessions == 7  # the variable wins over the file
    assert config.smtp.max_message_size == 1572864
    assert config.smtp.recipients == ("a@x.example", "b@y.example")
    assert config.smtp.listen == "" and config.smtp.listen_address is None
    assert config.dns.timeout == 0.5
    assert config.dns.nameserver_addresses == (("127.0.0.1", 5353),)
    assert config.policy.short_notice == "reject"
    assert config.policy.max_price_factor == 3.5
    assert config.policy.notice_for("decrease") == timedelta(hours=12)
    assert config.outbound.from_addr == "Desk <desk@x.example>"
    assert config.database.url == "postgresql+psycopg://ingestd@db/ingestd"
    assert config.limits.max_rows == 1000
    assert config.limits.max_sheets_per_message == 5
    assert config.limits.max_mime_parts == 500
    assert config.daemon.sheet_cache_size == 0  # none kept
    assert config.notify.rates_team == ("team@x.example",)
    assert (config.notify.unauthenticated_digest, config.notify.reports_per_message) == (900, 3)


def test_env_bool(tmp_path: Path) -> None:
    env = {
        "INGESTD_SMTP_REQUIRE_STARTTLS": "yes",
        "INGESTD_SMTP_TLS_CERT_FILE": "c.pem",
        "INGESTD_SMTP_TLS_KEY_FILE": "k.pem",
    }
    config = load(tmp_path, "", env)
    assert config.smtp.require_starttls is True
    assert config.smtp.tls_cert_file == tmp_path / "c.pem"


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    e = error_of(tmp_path, "", env={"INGESTD_SMTP_MAX_SESSIONS": "fifty"})
    assert (
        str(e) == "$INGESTD_SMTP_MAX_SESSIONS: smtp.max_sessions: expected an integer, got 'fifty'"
    )
    assert e.variable == "INGESTD_SMTP_MAX_SESSIONS" and e.file is None
    e = error_of(tmp_path, "", env={"INGESTD_POLICY_SHORT_NOTICE": "later"})
    assert "allowed: defer, reject, accept" in str(e)
    e = error_of(tmp_path, "", env={"INGESTD_SMTP_RECIPIENTS": "a@x.example,oops"})
    assert e.key == "smtp.recipients[1]" and e.variable == "INGESTD_SMTP_RECIPIENTS"


def test_unknown_env_variable_of_a_section(tmp_path: Path) -> None:
    e = error_of(tmp_path, "", env={"INGESTD_SMTP_MAX_SESION": "3"})
    assert e.variable == "INGESTD_SMTP_MAX_SESION"
    assert "unknown variable (did you mean INGESTD_SMTP_MAX_SESSIONS?)" in str(e)
    e = error_of(tmp_path, "", env={"INGESTD_POLICY_NOTICE_HOURS": "3"})
    assert "INGESTD_POLICY_NOTICE_HOURS_*" in str(e)


def test_state_dir_override_moves_derived_defaults(tmp_path: Path) -> None:
    env = {"INGESTD_DAEMON_STATE_DIR": "state"}
    config = load(tmp_path, "", env)
    assert config.daemon.state_dir == tmp_path / "state"
    assert config.database.url == f"sqlite:///{tmp_path}/state/ingestd.db"
    assert config.outbound.dir == tmp_path / "state/outbox"
    # options set explicitly stay where they were put
    config = load(tmp_path, '[database]\nurl = "sqlite:///db/x.db"\n[outbound]\ndir = "out"\n', env)
    assert config.database.url == f"sqlite:///{tmp_path}/db/x.db"
    assert config.outbound.dir == tmp_path / "out"


def test_relative_sqlite_path_is_resolved_against_the_working_directory(tmp_path: Path) -> None:
    config = load(tmp_path, '[database]\nurl = "sqlite:///var/x.db?timeout=10"\n')
    assert config.database.url == f"sqlite:///{tmp_path}/var/x.db?timeout=10"
    for kept in ("sqlite:////srv/ingestd.db", "sqlite://", "sqlite:///:memory:"):
        assert load(tmp_path, f'[database]\nurl = "{kept}"\n').database.url == kept
    env = {"INGESTD_DATABASE_URL": "sqlite+pysqlite:///rel.db"}
    assert load(tmp_path, "", env).database.url == f"sqlite+pysqlite:///{tmp_path}/rel.db"


# --- vendors ----------------------------------------------------------------------------------


def test_vendors_d_is_merged_in_file_name_order(tmp_path: Path) -> None:
    write(tmp_path, 'id = "zeta"\nsenders = ["@zeta.example"]\n', "vendors.d/b.toml")
    write(tmp_path, 'id = "alpha"\n[[tables]]\nname = "sms"\nkind = "sms"\n', "vendors.d/a.toml")
    write(tmp_path, 'id = "ignored"\n', "vendors.d/notes.txt")
    config = load(tmp_path, '[[vendors]]\nid = "main"\n')
    assert [v.id for v in config.vendors] == ["main", "alpha", "zeta"]
    assert config.vendor("zeta").senders == ("@zeta.example",)
    assert config.vendor("alpha").tables[0].kind == "sms"


def test_vendors_d_errors_name_that_file(tmp_path: Path) -> None:
    bad = write(
        tmp_path, 'id = "acme"\n[[tables]]\nname = "t"\nmode = "both"\n', "vendors.d/acme.toml"
    )
    e = error_of(tmp_path, "")
    assert e.file == str(bad)
    assert e.key == "tables[0].mode"
    assert "'both' is not allowed; allowed: full, partial, auto" in str(e)


def test_duplicate_vendor_ids_name_both_places(tmp_path: Path) -> None:
    dup = write(tmp_path, 'id = "acme"\n', "vendors.d/acme.toml")
    e = error_of(tmp_path, '[[vendors]]\nid = "acme"\n')
    assert e.file == str(dup) and e.key == "id"
    assert (
        f"duplicate vendor id 'acme'; already defined at {tmp_path}/ingestd.toml: vendors[0].id"
        in str(e)
    )
    e = error_of(tmp_path, '[[vendors]]\nid = "b"\n[[vendors]]\nid = "b"\n')
    assert e.key == "vendors[1].id" and "already defined at" in str(e) and "vendors[0].id" in str(e)


def test_vendor_values_are_normalised(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[[vendors]]\nid = "acme"\nsenders = ["Rates@ACME.example", "@Pricing.Acme.Example"]\n'
        'dkim_domains = ["ACME.example"]\ndefault_intervals = [60, 1]\n'
        'increment_rules = { "Fiji*" = "60/60" }\nheader_row = 3\n'
        'dkim_keys = { "Sel1._domainkey.acme.example" = "v=DKIM1; k=rsa; p=MIIB" }\n',
    )
    acme = config.vendor("acme")
    assert acme.name == "acme"  # name defaults to the id
    assert acme.senders == ("rates@acme.example", "@pricing.acme.example")
    assert acme.dkim_domains == ("acme.example",)
    assert acme.default_intervals == (60, 1)
    assert acme.increment_rules == {"Fiji*": (60, 60)}
    assert acme.header_row == 3
    assert dict(acme.dkim_keys) == {"sel1._domainkey.acme.example": "v=DKIM1; k=rsa; p=MIIB"}


def test_vendor_policy_overrides_are_merged(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[policy]\nnotice_hours = { increase = 100, new = 5 }\nmax_price_factor = 4.0\n"
        '[[vendors]]\nid = "fast"\n[vendors.policy]\nnotice_hours = { increase = 24 }\n'
        'short_notice = "reject"\n'
        '[[vendors]]\nid = "plain"\n',
    )
    fast = config.vendor("fast").policy
    assert fast.notice_for("increase") == timedelta(hours=24)
    assert fast.notice_for("interval_change") == timedelta(hours=24)  # follows increase
    assert fast.notice_for("new") == timedelta(hours=5)  # inherited from [policy]
    assert fast.short_notice == "reject"
    assert fast.max_price_factor == 4.0  # inherited
    assert config.policy.notice_for("increase") == timedelta(hours=100)  # global untouched
    assert config.policy.short_notice == "defer"
    assert config.vendor("plain").policy == config.policy


def test_explicit_interval_change_is_inherited_not_recomputed(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[policy]\nnotice_hours = { interval_change = 48 }\n"
        '[[vendors]]\nid = "v"\n[vendors.policy]\nnotice_hours = { increase = 24 }\n',
    )
    assert config.policy.notice_for("increase") == timedelta(days=7)
    assert config.vendor("v").policy.notice_for("interval_change") == timedelta(hours=48)


def test_env_policy_override_reaches_vendors(tmp_path: Path) -> None:
    config = load(
        tmp_path, '[[vendors]]\nid = "v"\n', env={"INGESTD_POLICY_NOTICE_HOURS_INCREASE": "1"}
    )
    assert config.vendor("v").policy.notice_for("increase") == timedelta(hours=1)


def test_unknown_vendor_gets_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, "[policy]\nstale_deck_days = 30\n")
    vendor = config.vendor("oneoff")
    assert vendor.known is False
    assert vendor.id == vendor.name == "oneoff"
    assert vendor.policy is config.policy and vendor.policy.stale_deck_days == 30
    assert vendor == Vendor.unknown("oneoff", config.policy)
    assert (vendor.timezone, vendor.default_mode, vendor.duplicate_policy) == (
        "UTC",
        "partial",
        "refuse",
    )
    assert vendor.tables == () and vendor.senders == ()
    with pytest.raises(ConfigError, match="'One Off' is not a vendor id"):
        config.vendor("One Off")
    with pytest.raises(ConfigError, match="is too long for a vendor id: 100 characters"):
        config.vendor("v" * 100)


def test_names_are_as_long_as_the_database_columns_that_hold_them() -> None:
    from ingestd.config import NAME_LENGTH
    from ingestd.db.tables import messages
    from ingestd.rates.schema import rate_tables

    for column in (rate_tables.c.vendor, rate_tables.c.name, messages.c.vendor):
        assert column.type.length == NAME_LENGTH
    assert name_problem("a" * NAME_LENGTH) is None
    assert "too long" in name_problem("a" * (NAME_LENGTH + 1))


def test_table_rule_matches_every_given_condition() -> None:
    rule = TableRule(name="premium", match_filename="*Premium*", match_subject="(?i)premium")
    assert rule.matches(filename="ACME premium.xlsx", subject="New PREMIUM rates")
    assert not rule.matches(filename="ACME premium.xlsx", subject="A-Z deck")
    assert not rule.matches(subject="premium")  # no file name: the filename condition fails
    assert TableRule(name="any").matches()
    assert TableRule(name="s", match_sheet="SMS*").matches(sheet="sms rates")


# --- secrets, helpers, immutability -------------------------------------------------------------


def test_passwords_come_from_a_file_or_a_variable(tmp_path: Path) -> None:
    write(tmp_path, "s3cret\n", "imap.pass")
    config = load(
        tmp_path,
        '[[imap]]\nname = "a"\nhost = "h"\nusername = "u"\npassword_file = "imap.pass"\n'
        '[[imap]]\nname = "b"\nhost = "h"\nusername = "u"\npassword_env = "B_PASS"\n'
        'security = "starttls"\n',
    )
    first, second = config.imap
    assert first.password_file == tmp_path / "imap.pass"
    assert first.password() == "s3cret"
    assert second.port == 143  # the default follows security
    assert second.password({"B_PASS": "pw"}) == "pw"
    with pytest.raises(ConfigError, match=r"password_env names \$B_PASS, which is not set"):
        second.password({})
    assert config.outbound.password({}) is None


def test_describe_is_json_and_hides_the_password(tmp_path: Path) -> None:
    env = {"INGESTD_DATABASE_URL": "postgresql+psycopg://ingestd:s3cret@db.example/ingestd"}
    summary = describe(load_config(EXAMPLE, env=env))
    assert json.loads(json.dumps(summary)) == summary
    assert summary["database_url"] == "postgresql+psycopg://ingestd:***@db.example/ingestd"
    assert "s3cret" not in json.dumps(summary)
    assert summary["path"] == str(EXAMPLE)
    assert summary["vendors"] == ["demo"]
    assert summary["imap_accounts"] == 0
    assert summary["smtp_listen"] == "127.0.0.1:2525"
    assert summary["policy"]["notice_hours"]["increase"] == 168


def test_mask_url_leaves_urls_without_password() -> None:
    assert mask_url("sqlite:////srv/x.db") == "sqlite:////srv/x.db"
    assert mask_url("mysql+pymysql://u@h/db") == "mysql+pymysql://u@h/db"
    assert mask_url("postgresql://u:p@ss@h:5432/db") == "postgresql://u:***@h:5432/db"


def test_settings_are_immutable(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.smtp.max_sessions = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.policy.notice_hours["increase"] = 0  # type: ignore[index]
    assert isinstance(config.vendors, tuple) and isinstance(config.smtp.recipients, tuple)


def test_listen_and_nameserver_addresses() -> None:
    assert SmtpConfig(listen="[::1]:2525").listen_address == ("::1", 2525)
    dns = DnsConfig(nameservers=("10.0.0.1", "[::1]:5353", "::1"))
    assert dns.nameserver_addresses == (("10.0.0.1", 53), ("::1", 5353), ("::1", 53))


def test_notice_for_accepts_change_classes() -> None:
    policy = Policy()
    assert policy.notice_for(ChangeClass.INCREASE) == timedelta(hours=168)
    assert policy.notice_for(ChangeClass.DISCONTINUED) == policy.notice_for("removal")
    with pytest.raises(ValueError, match="allowed: increase, decrease, new, removal"):
        policy.notice_for(ChangeClass.UNCHANGED)


def test_dataclass_defaults_match_the_loader() -> None:
    builtin = load_config(None, env={})
    assert builtin.smtp == SmtpConfig()
    assert builtin.notify == NotifyConfig()
    assert builtin.policy == Policy()
    assert ImapAccount(name="m", host="h").idle_renew == 600.0


# --- durations and sizes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60.0), ("5m", 300.0), ("2h", 7200.0), ("7d", 604800.0), ("500ms", 0.5),
     ("1.5h", 5400.0), (90, 90.0), (0.25, 0.25), ("45", 45.0), (" 10 s ", 10.0)],
)  # fmt: skip
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text, key="k") == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [("50MB", 50 * MB), ("512KB", 512 * 1024), ("1GB", 1024**3), ("1.5MB", 1572864),
     ("10mb", 10 * MB), (1234, 1234), ("1234", 1234), ("2 MiB", 2 * MB), ("7B", 7)],
)  # fmt: skip
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text, key="k") == size


@pytest.mark.parametrize("text", ["", "fast", "-5s", "5M", "5 minutes", "1h30m", True, "nan"])
def test_bad_durations(text: str | bool) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_duration(text, key="imap.poll_interval")
    assert caught.value.key == "imap.poll_interval"
    assert str(caught.value).startswith("imap.poll_interval: ")


@pytest.mark.parametrize("text", ["", "big", "-1MB", "1.5", 1.5, "5PB", False])
def test_bad_sizes(text: str | int) -> None:
    with pytest.raises(ConfigError, match=r"^smtp\.max_message_size: "):
        parse_size(text, key="smtp.max_message_size")


@given(st.integers(min_value=0, max_value=2**50))
def test_size_round_trip(size: int) -> None:
    assert parse_size(format_size(size), key="k") == size


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["B", "KB", "MB", "GB"]))
def test_size_units_are_binary(number: int, unit: str) -> None:
    factor = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[unit]
    assert parse_size(f"{number}{unit}", key="k") == number * factor


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_duration_round_trip(seconds: float) -> None:
    assert parse_duration(format_duration(seconds), key="k") == seconds


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["ms", "s", "m", "h", "d"]))
def test_duration_units(number: int, unit: str) -> None:
    expected = {"ms": number / 1000, "s": number, "m": number * 60, "h": number * 3600,
                "d": number * 86400}[unit]  # fmt: skip
    assert parse_duration(f"{number}{unit}", key="k") == expected


def test_format_picks_the_largest_exact_unit() -> None:
    assert format_size(50 * MB) == "50MB"
    assert format_size(1536) == "1536B"  # not a whole number of KB
    assert format_size(3 * 1024) == "3KB"
    assert format_duration(604800) == "7d"
    assert format_duration(90) == "90s"
    assert format_duration(0.5) == "500ms"


def test_max_cell_size_default_override_and_validation(tmp_path: Path) -> None:
    assert load(tmp_path, "").limits.max_cell_size == 32_767  # Excel's own cell limit
    config = load(tmp_path, "", env={"INGESTD_LIMITS_MAX_CELL_SIZE": "1000"})
    assert config.limits.max_cell_size == 1000
    for bad in ("0", '"big"', "131073"):
        with pytest.raises(ConfigError) as caught:
            load(tmp_path, f"[limits]\nmax_cell_size = {bad}\n")
        assert "limits.max_cell_size" in str(caught.value)
