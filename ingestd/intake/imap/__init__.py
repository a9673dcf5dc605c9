"""IMAP intake (docs/mail.md#imap): ``poller.py`` watches one mailbox and hands each message
over (``handover.py``: what it hands and hears back), remembering what it settled in a state
file (``state.py``) and publishing what it is doing (``status.py``); ``session.py`` talks to the
server (login, folders, refusals), with folder names translated by ``folders.py``; ``check.py``
is ``ingestd check-config --connect`` for one account."""
