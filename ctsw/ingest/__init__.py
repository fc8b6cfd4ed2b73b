"""Loading landing files into DuckDB's raw schema, with validation and quarantine."""
