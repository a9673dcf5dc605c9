"""The words the mail ingestd writes uses for what happened: change classes, deck statuses,
what a vendor should fix for each reason a row or a sheet was refused, why a message is held."""

from __future__ import annotations

from ingestd.states import Purpose, SourceClass

# change classes in the order reports show them (rates.model.ChangeClass)
CHANGE_ORDER = (
    "new",
    "increase",
    "decrease",
    "unchanged",
    "forbidden",
    "unforbidden",
    "discontinued",
    "interval_change",
    "details",
)
# how reports name each change class
CLASS_LABELS = {
    "new": "new codes",
    "increase": "increases",
    "decrease": "decreases",
    "unchanged": "unchanged",
    "forbidden": "blocked",
    "unforbidden": "unblocked",
    "discontinued": "discontinued",
    "interval_change": "increment changes",
    "details": "description changes",
}
# what became of a deck, in words
DECK_STATUS_LABELS = {
    "imported": "accepted",
    "refused": "refused",
    "duplicate": "already imported",
    "held": "held for review",
    "dry_run": "not written (dry run)",
}
NOTICE_GROUPS = (
    # (one, many, classes)
    ("increase", "increases", ("increase",)),
    ("decrease", "decreases", ("decrease",)),
    ("new code", "new codes", ("new",)),
    ("removed code", "removed codes", ("discontinued", "withdrawn")),
    (
        "other change",
        "other changes",
        ("forbidden", "unforbidden", "interval_change", "cancelled"),
    ),
)
# What the vendor should do about a rejected row, by reason code (sheets.cells.REASON_TEXT,
# rates.semantics); written for the people who make the sheet.
ROW_FIXES = {
    "missing_code": "Give every rate row its code (prefix); a row without one cannot be rated.",
    "bad_code": "Write codes as digits only, at most 15 (format the column as text so the "
    "spreadsheet does not turn long codes into 1.2E+10).",
    "bad_range": "Write a range of codes as two ends of the same length, e.g. 447400-447409 "
    "(at most 10,000 codes).",
    "missing_price": "Give every row a price.",
    "bad_price": "Write prices as numbers, e.g. 0.0125.",
    "negative_price": "Prices cannot be negative.",
    "absurd_price": "A price above 1,000,000 is almost certainly a typo: check the decimal "
    "separator.",
    "bad_date": "Write effective dates as dates (2025-01-31 or 31-Jan-2025) or as ASAP.",
    "ambiguous_date": "Write dates so day and month cannot be confused (2025-01-03 or "
    "03-Jan-2025).",
    "bad_timezone": "Name time zones as Europe/London or as a UTC offset such as +01:00.",
    "bad_interval": "Write billing increments as whole seconds, e.g. 60/60 or 1/1.",
    "bad_number": "Write this column as a whole number.",
    "bad_flag": "Write yes/no columns as Y/N, yes/no or 1/0.",
    "bad_currency": "Write currencies as three-letter codes (USD, EUR).",
    "added_without_rate": "A code your code-changes sheet adds has no rate in the price sheet: "
    "send the code's rate with it.",
    "conflict": "The same code appears twice with different values: keep one row per code "
    "and date.",
    "short_notice": "This change is dated sooner than the agreed notice period allows: date it "
    "at least that period after you send it.",
    "end_before_start": "An end date must be after its effective date.",
}
# What the vendor should do about a sheet refused as a whole or a message without one.
SHEET_FIXES = {
    "no_table": "We could not find the rate table: put a header row with a code column "
    "(e.g. Prefix) and a price column (e.g. Rate) above the rates.",
    "no_code_column": "Add a column of codes (prefixes, MCCMNC or numbers) with a header.",
    "unknown_format": "Send rates as CSV, XLSX, XLS or ODS (a ZIP of them is fine).",
    "unreadable": "The file could not be read: save it again from your spreadsheet program "
    "and resend it.",
    "too_large": "The file is larger than we accept: zip it, or split the deck.",
    "too_many_rows": "The sheet has more rows than we accept: split the deck.",
    "too_many_columns": "The sheet has more columns than we accept: remove unused columns.",
    "too_many_rejected": "Too many rows were rejected for the sheet to be imported: fix the "
    "rows listed and send the whole sheet again.",
    "empty": "The sheet holds no rate rows.",
    "currency_mismatch": "The sheet is in another currency than the rate table it belongs "
    "to: check the currency, or ask us to set up a table for it.",
    "mixed_hyphens": "One code column uses hyphens both for ranges (447400-447409) and for "
    "country-area pairs (93-76): use one style per column.",
    "bad_override": "Our settings for your sheets are wrong; our rates team has been told.",
    "no_sheet": "Attach the rate sheet (CSV, XLSX, XLS, ODS, or a ZIP of them) to the message "
    "and send it again.",
}
# What the vendor should do about an attachment that was left out (mail.skips.SKIP_REASONS).
SKIP_FIXES = {
    "winmail_dat": "Your mail program wrapped the attachment in winmail.dat (Outlook rich "
    "text): send it from a message in HTML or plain-text format.",
    "encrypted": "Send the sheet without a password: protected files cannot be read.",
    "undecodable": "The attachment arrived damaged: attach it again.",
    "too_large": "The attachment is larger than we accept: zip it, or split the deck.",
}
QUIET_SKIPS = ("body_text", "inline_image")  # parts of every message, not worth a word
# Why a message was held, for the rates team (auth.HOLD_REASONS and the pipeline's own).
HOLD_TEXT = {
    "unknown_sender": "the From address belongs to no configured vendor",
    "no_from": "the message has no From address",
    "multiple_from": "the message has more than one From address",
    "unsigned": "the message carries no DKIM signature",
    "dkim_fail": "no DKIM signature verifies",
    "dkim_misaligned": "no passing DKIM signature is from one of the vendor's signing domains",
    "dkim_length_tag": "the DKIM signature covers only part of the body (l= tag)",
    "dkim_weak_algorithm": "the DKIM signature uses rsa-sha1",
    "dkim_from_unsigned": "the DKIM signature does not cover the From header",
    "dkim_expired": "the DKIM signature has expired",
    "dkim_weak_key": "the DKIM key is shorter than 1024 bits",
    "dkim_header_unsigned": "a Subject or Message-ID header is not covered by the DKIM signature",
    "dkim_test_key": "the DKIM key is in testing mode (t=y)",
    "no_sheet": "the message holds no rate sheet",
    "guard_triggered": "a sheet tripped a guard (mass discontinue, stale deck, price jump)",
    "too_many_sheets": "the message holds more rate sheets than [limits] max_sheets_per_message",
    "too_many_parts": "the message has more MIME parts than [limits] max_mime_parts",
    "pipeline_crash": "processing the message failed repeatedly",
}


# how the "cap reached" notice names a source class and an outbox purpose
CLASS_TEXT = {
    SourceClass.AUTHENTICATED: "about authenticated vendors' imports",
    SourceClass.UNAUTHENTICATED: "about mail whose sender was not authenticated",
    SourceClass.SYSTEM: "from ingestd itself (delivery failures, digests)",
}
PURPOSE_TEXT = {
    Purpose.CONFIRMATION: "vendor confirmations",
    Purpose.IMPORT_REPORT: "import reports",
    Purpose.PRICE_CHANGE: "price-change notices",
    Purpose.QUARANTINE_ALERT: "quarantine alerts",
    Purpose.UNAUTHENTICATED_DIGEST: "digests of unauthenticated mail",
    Purpose.DELIVERY_FAILURE: "delivery-failure notices",
    Purpose.ACTIVATION_DIGEST: "digests of rates taking effect",
}
