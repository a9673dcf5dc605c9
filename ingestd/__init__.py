"""ingestd: telecom rate decks by mail → verified, normalized, versioned OpenTWPS rate tables."""

__version__ = "0.1.0"
