"""Data-quality gates: Great Expectations suites (committed JSON under `expectations/`) run on DataFrames."""
