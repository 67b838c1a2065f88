"""The ledger file: WAL mode, a modest page cache, the schema created once, and the check path's
statement probing indexes only."""

from __future__ import annotations

from pathlib import Path

from fundguard.agent.trace.ledger import _FACTS_SQL
from fundguard.agent.trace.schema import CACHE_KIB, SCHEMA_VERSION, connect


def test_connection_settings_and_schema(tmp_path: Path) -> None:
    """WAL, synchronous FULL, the cache size, the schema version and every table; a missing folder is created."""
    db = connect(tmp_path / "new" / "trace.sqlite3")
    assert "wal" == db.execute("PRAGMA journal_mode").fetchone()[0]
    assert 2 == db.execute("PRAGMA synchronous").fetchone()[0]
    assert -CACHE_KIB == db.execute("PRAGMA cache_size").fetchone()[0]
    assert SCHEMA_VERSION == db.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"products", "imports", "inbound", "dispenses", "sales", "opened", "nocode", "scans"} == tables
    db.close()


def test_opening_again_keeps_the_data(tmp_path: Path) -> None:
    """A second connection to an existing ledger neither recreates nor empties it."""
    path = tmp_path / "trace.sqlite3"
    first = connect(path)
    first.execute("INSERT INTO nocode VALUES ('X', '5')")
    second = connect(path)
    assert [("X", "5")] == second.execute("SELECT * FROM nocode").fetchall()
    first.close()
    second.close()


def test_check_path_lookups_use_indexes(tmp_path: Path) -> None:
    """The check path's statement probes primary keys and the sales index: no table is scanned."""
    db = connect(tmp_path / "trace.sqlite3")
    plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + _FACTS_SQL, ("k", "p"))]
    db.close()
    probes = [p for p in plan if p.startswith(("SEARCH", "SCAN")) and p != "SCAN q" and "CONSTANT" not in p]
    assert 4 == len(probes)
    assert all(p.startswith("SEARCH") for p in probes), plan
