"""Keyed pseudonyms for people: raw identifiers never reach DuckDB.

The key comes from CTSW_PSEUDONYM_KEY, else from a local secret file created on first use (outside git).
The same key gives the same pseudonym across loads, so joins across tables still work.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PREFIX = "p_"


def load_or_create_key(key_file: Path) -> str:
    env = os.environ.get("CTSW_PSEUDONYM_KEY")
    if env:
        return env
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def pseudonym_sql(expr: str, key: str) -> str:
    """SQL for the pseudonym of `expr`: 16 hex chars of sha256(key:value); null stays null."""
    quoted = key.replace("'", "''")
    return f"CASE WHEN {expr} IS NULL THEN NULL ELSE '{PREFIX}' || substr(sha256('{quoted}:' || {expr}), 1, 16) END"
