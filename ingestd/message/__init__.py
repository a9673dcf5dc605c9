"""The life of one received message: its outcome, its row (the ledger), the pipeline of stages,
the quarantine and the mail it causes (notify)."""
