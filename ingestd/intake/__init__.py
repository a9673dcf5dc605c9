"""Mail intake: SMTP listener, IMAP poller and the durable inbound queue."""
