"""How long the real daemon takes to answer a forged mail whose extra DKIM signatures name
selectors the DNS server never answers (README "Reliability and security").

    PYTHONPATH=$PWD:$PWD/tests .venv/bin/python benchmarks/measure_stalling.py \\
        --signatures 60 --timeout 5s --domains aligned

Starts the dnslib server of tests/rig/dns.py and ``python -m ingestd run`` (tests/rig/daemon.py)
with ``[dns] timeout`` as given and the other [dns] options at their defaults, sends the forgery
over SMTP with smtplib and prints the reply and the seconds it took.
"""

from __future__ import annotations

import argparse
import smtplib
import tempfile
import time
from pathlib import Path

from rig.daemon import RECIPIENT, VENDOR_SENDER, Setup
from rig.dns import TxtServer
from rig.signers import rate_mail, rsa_key, sign_dkimpy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=60)
    parser.add_argument("--timeout", default="5s", help="[dns] timeout of the daemon")
    parser.add_argument(
        "--domains",
        choices=("aligned", "foreign"),
        default="aligned",
        help="d=acme.example (the From domain) or d=stallN.example (could never count)",
    )
    args = parser.parse_args()
    key = rsa_key(1024)
    raw = rate_mail()
    for i in range(args.signatures):
        if args.domains == "aligned":
            raw = sign_dkimpy(raw, key, domain="acme.example", selector=f"stall{i}")
        else:
            raw = sign_dkimpy(raw, key, domain=f"stall{i}.example", selector="s")
    with TxtServer() as dns, tempfile.TemporaryDirectory(prefix="ingestd-stall-") as folder:
        dns.drop("stall*._domainkey.acme.example", "s._domainkey.stall*.example")
        setup = Setup.create(Path(folder), nameserver=dns.address)
        text = setup.config.read_text(encoding="utf-8")
        setup.config.write_text(
            text.replace('timeout = "1s"', f'timeout = "{args.timeout}"', 1), encoding="utf-8"
        )
        with setup.daemon() as daemon:
            started = time.monotonic()
            try:
                with smtplib.SMTP("127.0.0.1", setup.port, timeout=3600) as client:
                    client.sendmail(VENDOR_SENDER, [RECIPIENT], raw)
                reply = "250"
            except smtplib.SMTPDataError as e:
                reply = f"{e.smtp_code} {e.smtp_error.decode(errors='replace')[:120]}"
            except smtplib.SMTPServerDisconnected:
                reply = "no reply: the daemon closed the connection ([smtp] timeout)"
            elapsed = time.monotonic() - started
            daemon.stop(timeout=120)
    print(
        f"signatures={args.signatures} ({args.domains}) timeout={args.timeout}: "
        f"reply after {elapsed:.2f} s: {reply}"
    )


if __name__ == "__main__":
    main()
