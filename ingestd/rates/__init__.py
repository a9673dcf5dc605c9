"""Rate tables: the meaning of rows (semantics), their storage (store, schema) and exports."""
