"""The database layer: engine and migrations, the tables of the message's life, the clock."""
