"""The test rig: the real peers and inputs the tests run ingestd against.

daemon     the real daemon (``python -m ingestd run``) in a temporary folder, the CLI beside it,
           and vendor mails sent to it over SMTP
dns        a DNS server publishing DKIM keys (dnslib), with drops, SERVFAIL and CNAMEs on demand
dovecot    a real Dovecot on free ports, for IMAP
hostile    hostile files built small: zip bombs, workbooks claiming huge extents, endless lines
mail       rate mails for the pipeline: decks, messages, DKIM-signed with a pinned key
signers    DKIM keys and signatures (dkimpy, OpenDKIM, and crafted ones)
smtp       the real SMTP/LMTP listener, raw sessions and a stand-in daemon process
factories  rate frames, instants and CLI runs for the store and reader tests
"""
