"""`fundguard trace …` through `fundguard.agent.cli.main`: import prints a summary with every rejected line and
exits 1 when a line was rejected (0 when all were imported, 2 when it could not run); lookup prints the code's
state as JSON; generate writes files or fills a ledger; the default ledger is `fundguard-data/trace.sqlite3`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fundguard.agent.cli import main

from ..cli_run import json_out, run_cli
from .ledger_samples import B1, GS1

HEADER = "drug_trac_codg,manu_lotnum,expy_end"


def _inbound(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_import_with_a_rejected_line_exits_1_and_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file with one corrupted line: the others are added, the summary names line 3 and why, exit code 1;
    the progress bar goes to stderr."""
    path = _inbound(tmp_path / "in.csv", f"{B1[0]},240601,2027-05-31", f"{B1[1][:-2]},240601,2027-05-31", B1[2] + ",,")
    code, out, err = run_cli(capsys, "trace", "import", str(path))
    assert 1 == code
    lines = out.splitlines()
    assert f"inbound {path}: 3 records, 2 added, 0 unchanged, 0 updated, 1 rejected" == lines[0]
    assert lines[1].startswith("line 3: drug_trac_codg: length")
    assert "in.csv" in err
    assert Path("fundguard-data/trace.sqlite3").is_file()


def test_clean_import_exits_0_and_again_is_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """All lines imported: exit 0; the same file again: every line unchanged, exit 0."""
    path = _inbound(tmp_path / "in.csv", *(f"{c},240601,2027-05-31" for c in B1))
    ledger = tmp_path / "x" / "t.sqlite3"
    assert 0 == run_cli(capsys, "trace", "import", str(path), "--ledger", str(ledger))[0]
    code, out, _ = run_cli(capsys, "trace", "import", str(path), "--ledger", str(ledger))
    assert (0, "5 records, 0 added, 5 unchanged") == (code, out.split(": ", 1)[1].split(", 0 updated")[0])


def test_import_kinds_and_lookup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A catalogue (JSON Lines) and inbound codes imported into --data-dir; lookup shows product and stock."""
    cat = tmp_path / "cat.jsonl"
    cat.write_text(
        json.dumps({"product_key": "8385793", "hilist_code": "XA11DAW036A001010104127", "pack_units": 10}) + "\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    assert 0 == run_cli(capsys, "trace", "import", str(cat), "--kind", "catalogue", "--data-dir", str(data))[0]
    path = _inbound(tmp_path / "in.csv", f"{B1[0]},240601,2027-05-31")
    assert 0 == run_cli(capsys, "trace", "import", str(path), "--data-dir", str(data))[0]
    code, out, _ = run_cli(capsys, "trace", "lookup", B1[0], "--data-dir", str(data))
    doc = json_out(out)
    assert (0, "in_stock", "8385793") == (code, doc["state"], doc["parse"]["product_key"])
    assert {"hilist_code": "XA11DAW036A001010104127", "pack_level": "", "pack_units": 10} == doc["product"]
    assert {"batch": "240601", "expiry": "2027-05-31"} == {k: doc["inbound"][k] for k in ("batch", "expiry")}


def test_lookup_of_a_malformed_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scan that is not a code: its reason and detail, exit 0."""
    path = _inbound(tmp_path / "in.csv", f"{B1[0]},,")
    run_cli(capsys, "trace", "import", str(path))
    code, out, _ = run_cli(capsys, "trace", "lookup", "83857930000")
    assert (0, "length") == (code, json_out(out)["problem"])


def test_commands_without_a_ledger_or_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """lookup/status on a missing ledger and import of a missing file say so on stderr and exit 2."""
    code, _, err = run_cli(capsys, "trace", "lookup", B1[0], "--ledger", str(tmp_path / "none.sqlite3"))
    assert 2 == code and "no trace ledger" in err
    assert 2 == run_cli(capsys, "trace", "status")[0]
    code, _, err = run_cli(capsys, "trace", "import", str(tmp_path / "missing.csv"))
    assert 2 == code and "no file" in err


def test_import_of_a_file_without_the_code_column_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A catalogue passed as inbound codes: refused whole, naming the missing column."""
    path = tmp_path / "cat.csv"
    path.write_text("product_key,hilist_code\n8385793,XA11DAW036A001010104127\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "trace", "import", str(path))
    assert 2 == code and "drug_trac_codg" in err


def test_ledger_and_data_dir_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    """--ledger and --data-dir together are a usage error (argparse exit 2)."""
    with pytest.raises(SystemExit) as exc:
        main(["trace", "lookup", B1[0], "--ledger", "a", "--data-dir", "b"])
    assert 2 == exc.value.code
    assert "not allowed with" in capsys.readouterr().err


def test_generate_to_a_file_then_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """generate N FILE writes the codes and the catalogue; both import cleanly; status counts them."""
    codes = tmp_path / "gen" / "codes.csv"
    code, out, _ = run_cli(capsys, "trace", "generate", "2000", str(codes), "--products", "20", "--seed", "5")
    assert 0 == code and "codes.catalogue.csv" in out
    cat = codes.with_name("codes.catalogue.csv")
    assert 0 == run_cli(capsys, "trace", "import", str(cat), "--kind", "catalogue")[0]
    assert 0 == run_cli(capsys, "trace", "import", str(codes))[0]
    code, out, _ = run_cli(capsys, "trace", "status")
    doc = json_out(out)
    assert (0, 20, 2000) == (code, doc["products"], doc["inbound_codes"])


def test_generate_into_a_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """generate N --ledger PATH fills the ledger directly; generate with no destination exits 2."""
    ledger = tmp_path / "t.sqlite3"
    code, out, _ = run_cli(capsys, "trace", "generate", "1500", "--ledger", str(ledger), "--products", "15")
    assert (0, f"added 1500 codes to {ledger}") == (code, out.strip())
    assert 2 == run_cli(capsys, "trace", "generate", "10")[0]


def test_gs1_lookup_shows_the_codes_own_expiry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A GS1 code received without expiry: lookup parses it (kind gs1, expiry and batch from the code)."""
    path = _inbound(tmp_path / "in.csv", f"{GS1},,")
    assert 0 == run_cli(capsys, "trace", "import", str(path))[0]
    doc = json_out(run_cli(capsys, "trace", "lookup", GS1)[1])
    assert ("gs1", "2027-06-30", "LOT42") == (doc["parse"]["kind"], doc["parse"]["expiry"], doc["parse"]["batch"])
    assert "2027-06-30" == doc["inbound"]["expiry"]
