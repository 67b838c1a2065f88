"""Importing files into the ledger: each line is validated (bad code, bad date, contradictions with a GS1 code's
own batch and expiry, bad quantities) and a rejected line is reported with its number while the rest is imported;
re-importing changes nothing; progress is reported in bytes; a million lines import and finish.

The per-line validation cases live in `importer_cases.json`: `{name, kind, row, reason}` (`reason` "" = imported,
else the start of the rejection; `inbound` = the stored batch and expiry).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fundguard.agent.trace.generate import write_csv
from fundguard.agent.trace.importer import ImportFileError, ImportKind, ImportReport, import_file
from fundguard.agent.trace.ledger import TraceLedger

from .ledger_samples import AT, B1, C1

CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "importer_cases.json").read_text(encoding="utf-8"))


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[TraceLedger]:
    """An empty ledger, closed after the test."""
    with TraceLedger(tmp_path / "trace.sqlite3") as opened:
        yield opened


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_line_validation(ledger: TraceLedger, tmp_path: Path, case: dict[str, Any]) -> None:
    """One line is imported, or rejected on line 1 with the case's reason naming the column."""
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(case["row"]) + "\n", encoding="utf-8")
    report = import_file(ledger, path, ImportKind(case["kind"]), AT)
    if case["reason"]:
        assert 0 == report.added
        assert [1] == [r.line for r in report.rejected]
        assert report.rejected[0].reason.startswith(case["reason"]), report.rejected[0].reason
    else:
        assert (1, ()) == (report.added, report.rejected)
    if "inbound" in case:
        stored = ledger.lookup(case["row"]["drug_trac_codg"])["inbound"]
        assert case["inbound"] == {"batch": stored["batch"], "expiry": stored["expiry"]}


def test_corrupted_lines_are_reported_and_the_rest_imported(ledger: TraceLedger, tmp_path: Path) -> None:
    """A file with a truncated code, an impossible date and a line with too many columns: those three lines are
    reported with their numbers, the other codes are imported — none is lost."""
    good = [f"{c},240601,2027-05-31" for c in B1]
    path = _csv(
        tmp_path / "in.csv",
        ["drug_trac_codg,manu_lotnum,expy_end", good[0], "8385793000087976,240601,2027-05-31", good[1],
         f"{C1},240702,2026-02-30", good[2], good[3], f"{C1},240702,2026-12-31,x", good[4]],
    )  # fmt: skip
    report = import_file(ledger, path, ImportKind.INBOUND, AT)
    assert (8, 5, 0) == (report.records, report.added, report.unchanged)
    assert [3, 5, 8] == [r.line for r in report.rejected]
    assert report.rejected[0].reason.startswith("drug_trac_codg: length")
    assert report.rejected[1].reason.startswith("expy_end: ")
    assert "columns" in report.rejected[2].reason
    assert report.records == report.added + report.unchanged + len(report.rejected)
    assert all(ledger.lookup(c)["inbound"] is not None for c in B1)


def test_reimporting_the_same_file_changes_nothing(ledger: TraceLedger, tmp_path: Path) -> None:
    """A 20 000-code file (with its catalogue) imported twice: the second time every line is unchanged and the
    ledger's counts are as after the first."""
    codes = tmp_path / "codes.csv"
    catalogue = write_csv(codes, 20_000, products=50)
    assert 50 == import_file(ledger, catalogue, ImportKind.CATALOGUE, AT).added
    first = import_file(ledger, codes, ImportKind.INBOUND, AT, batch_rows=3_000)
    before = ledger.counts()
    again = import_file(ledger, codes, ImportKind.INBOUND, AT.replace(day=2), batch_rows=3_000)
    assert (20_000, 0, ()) == (first.added, first.unchanged, first.rejected)
    assert (0, 20_000, ()) == (again.added, again.unchanged, again.rejected)
    assert before == ledger.counts()


def test_a_code_received_again_with_other_data_is_rejected_with_its_line(ledger: TraceLedger, tmp_path: Path) -> None:
    """Within a file and across files, a code already received with another batch is reported on its line."""
    first = _csv(tmp_path / "a.csv", ["drug_trac_codg,manu_lotnum", f"{B1[0]},240601"])
    import_file(ledger, first, ImportKind.INBOUND, AT)
    second = _csv(tmp_path / "b.csv", ["drug_trac_codg,manu_lotnum", f"{B1[1]},240601", f"{B1[0]},240999"])
    report = import_file(ledger, second, ImportKind.INBOUND, AT, batch_rows=1)
    assert (1, [3]) == (report.added, [r.line for r in report.rejected])
    assert "code already in stock with batch '240601'" in report.rejected[0].reason


def test_rejections_from_the_ledger_and_the_reader_come_in_line_order(ledger: TraceLedger, tmp_path: Path) -> None:
    """Rejections found in different batches and by different stages are reported sorted by line."""
    lines = ["drug_trac_codg,manu_lotnum", f"{B1[0]},1", f"{B1[0]},2", "x", f"{B1[1]},1", f"{B1[1]},2,3"]
    report = import_file(ledger, _csv(tmp_path / "in.csv", lines), ImportKind.INBOUND, AT, batch_rows=2)
    assert [3, 4, 6] == [r.line for r in report.rejected]


def test_progress_is_reported_in_bytes_up_to_the_file_size(ledger: TraceLedger, tmp_path: Path) -> None:
    """The callback gets a non-decreasing byte count after each batch, ending at the file's size."""
    codes = tmp_path / "codes.csv"
    write_csv(codes, 5_000, products=10)
    seen: list[int] = []
    import_file(ledger, codes, ImportKind.INBOUND, AT, progress=seen.append, batch_rows=1_000)
    assert len(seen) >= 5
    assert sorted(seen) == seen
    assert codes.stat().st_size == seen[-1]


def test_catalogue_and_nocode_files(ledger: TraceLedger, tmp_path: Path) -> None:
    """A catalogue CSV and a 无码库 JSON array import with their own columns; again, they are unchanged."""
    cat = _csv(
        tmp_path / "cat.csv",
        ["product_key,hilist_code,pack_level,pack_units", "8385793,XA11DAW036A001010104127,box,10"],
    )
    nocode = tmp_path / "nocode.json"
    nocode.write_text(json.dumps([{"hilist_code": "XA11GAW043A001010201815", "units": 40}]), encoding="utf-8")
    expected = [
        ImportReport(ImportKind.CATALOGUE, str(cat), 1, 1, 0, 0, ()),
        ImportReport(ImportKind.NOCODE, str(nocode), 1, 1, 0, 0, ()),
    ]
    assert expected == [
        import_file(ledger, cat, ImportKind.CATALOGUE, AT),
        import_file(ledger, nocode, ImportKind.NOCODE, AT),
    ]
    again = [import_file(ledger, cat, ImportKind.CATALOGUE, AT), import_file(ledger, nocode, ImportKind.NOCODE, AT)]
    assert [(0, 1), (0, 1)] == [(r.added, r.unchanged) for r in again]
    assert {"hilist_code": "XA11DAW036A001010104127", "pack_level": "box", "pack_units": 10} == (
        ledger.lookup(B1[0])["product"]
    )


def test_csv_without_the_required_column_is_refused_whole(ledger: TraceLedger, tmp_path: Path) -> None:
    """A catalogue imported as inbound codes: refused before anything is imported, naming the column."""
    path = _csv(tmp_path / "cat.csv", ["product_key,hilist_code", "8385793,XA11DAW036A001010104127"])
    with pytest.raises(ImportFileError, match="no column drug_trac_codg"):
        import_file(ledger, path, ImportKind.INBOUND, AT)
    assert 0 == ledger.counts()["products"]


@pytest.mark.slow
def test_a_million_codes_import_with_progress(ledger: TraceLedger, tmp_path: Path) -> None:
    """1 000 000 generated inbound codes (about 2% GS1) import with progress reported throughout; every line is
    added, none rejected."""
    codes = tmp_path / "codes.csv"
    catalogue = write_csv(codes, 1_000_000)
    import_file(ledger, catalogue, ImportKind.CATALOGUE, AT)
    seen: list[int] = []
    report = import_file(ledger, codes, ImportKind.INBOUND, AT, progress=seen.append)
    assert (1_000_000, 1_000_000, ()) == (report.records, report.added, report.rejected)
    assert len(seen) >= 50
    assert codes.stat().st_size == seen[-1]
    assert 1_000_000 == ledger.counts()["inbound_codes"]
