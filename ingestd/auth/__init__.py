"""Sender authentication: DKIM and the rules that decide which vendor sent a message."""
