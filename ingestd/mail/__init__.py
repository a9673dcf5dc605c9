"""Mail handling: attachments out of messages, the outbox and templates."""
