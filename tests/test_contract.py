"""The contract's documentation is generated from the code and must not drift."""

from pathlib import Path

from ctsw.contract import DEFAULT_DELIVERY_UNIT, TABLES
from ctsw.contract_doc import render


def test_committed_contract_doc_is_current():
    doc = Path(__file__).resolve().parent.parent / "docs" / "telemetry-contract.md"
    assert doc.read_text() == render(), "regenerate: python -m ctsw.contract_doc > docs/telemetry-contract.md"


def test_keys_and_partition_columns_are_columns():
    for t in TABLES.values():
        assert set(t.key) <= set(t.column_names), t.name
        assert t.partition_column is None or t.partition_column in t.column_names
        assert all(t.column(k).required for k in t.key), f"{t.name}: key columns must be required"
    assert set(DEFAULT_DELIVERY_UNIT) == set(TABLES["teams"].column("architecture").accepted)
