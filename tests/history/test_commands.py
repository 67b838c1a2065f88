"""`fundguard history …` through `fundguard.agent.cli.main` on a temp store with a few settlements: status prints
the counts, visit dates and retention (text and JSON); purge removes what is dated before a day (or past the
configured retention) and what remains adds up; show prints one patient's encounters and logs the id masked only;
bad input (a date that is not YYYY-MM-DD, no store, a bad config, an empty id) exits 2 naming the option."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from fundguard.agent.cli import main
from fundguard.agent.config import LogSettings
from fundguard.agent.engine.model import Encounter
from fundguard.agent.history import HistoryStore, Settlement
from fundguard.agent.log import configure_logging, mask_value, reset_logging

from ..cli_run import json_out, run_cli
from .samples import PATIENT, SETTLED_AT, stay, tianma

OTHER = "P-HIST-00002"


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Logging as in a fresh `fundguard` process (nothing configured), and put back afterwards."""
    reset_logging()
    yield
    reset_logging()


def _settle(store: HistoryStore, patn_id: str, enc: Encounter, setl_id: str) -> None:
    assert store.confirm(Settlement(patn_id, enc, setl_id, SETTLED_AT))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir whose store holds 3 settlements and 1 encounter a check carried, of 2 patients:
    PATIENT S1 (2026-10-01, 1 line) and S2 (2026-10-20, 2 lines); OTHER S0 (2019-03-01) and, carried, S9
    (2026-09-01)."""
    data = tmp_path / "data"
    with HistoryStore(data / "history.sqlite3") as store:
        _settle(store, PATIENT.patn_id, stay("S1", date(2026, 10, 1), date(2026, 10, 10), "I63.900",
                                             tianma("T0", date(2026, 10, 1), 10)), "SETL-1")  # fmt: skip
        _settle(store, PATIENT.patn_id, stay("S2", date(2026, 10, 20), date(2026, 10, 30), "I63.800",
                                             tianma("T1", date(2026, 10, 20), 4), tianma("T2", date(2026, 10, 24), 4)),
                "SETL-2")  # fmt: skip
        _settle(store, OTHER, stay("S0", date(2019, 3, 1), date(2019, 3, 9), "J18.900",
                                   tianma("T9", date(2019, 3, 1), 3)), "SETL-0")  # fmt: skip
        carried = stay("S9", date(2026, 9, 1), None, "J18.900", tianma("T8", date(2026, 9, 1), 2), med_type="11")
        assert 1 == store.remember(OTHER, [carried], datetime(2026, 10, 2))
    return data


def test_status_prints_counts_dates_and_retention(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """status --json: 2 patients, 4 encounter records (3 settlements, 1 carried), 4 diagnoses, 5 lines, visits
    2019-03-01 .. 2026-10-20, the default retention (5 years + 90 days) and the day before which it purges; the text
    form says the same."""
    code, out, _ = run_cli(capsys, "history", "status", "--data-dir", str(data_dir), "--json")
    cutoff = date.today() - timedelta(days=5 * 365 + 90)
    assert 0 == code
    assert {"store": str(data_dir / "history.sqlite3"), "enabled": True, "patients": 2, "encounters": 4,
            "settlements": 3, "carried": 1, "diagnoses": 4, "lines": 5, "oldest_visit": "2019-03-01",
            "newest_visit": "2026-10-20", "retention_days": 1915,
            "purge_before": cutoff.isoformat()} == json_out(out)  # fmt: skip
    code, out, _ = run_cli(capsys, "history", "status", "--data-dir", str(data_dir))
    assert 0 == code
    assert [f"store        {data_dir / 'history.sqlite3'}", "patients     2",
            "encounters   4 (3 settlements, 1 carried by checks)", "diagnoses    4", "lines        5",
            "visit dates  2019-03-01 .. 2026-10-20",
            f"retention    1915 days: visits before {cutoff} are purged"] == out.splitlines()  # fmt: skip


def test_status_reads_the_store_and_retention_from_the_config(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --config, the store is `[history] path` and the retention `[history] retention_days`."""
    moved = tmp_path / "elsewhere" / "h.sqlite3"
    moved.parent.mkdir()
    (data_dir / "history.sqlite3").rename(moved)
    config = tmp_path / "fundguard.toml"
    config.write_text(f"[history]\npath = '{moved}'\nretention_days = 400\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "history", "status", "--config", str(config), "--json")
    doc = json_out(out)
    assert (0, str(moved), 400, 4) == (code, doc["store"], doc["retention_days"], doc["encounters"])


def test_purge_before_a_day_removes_it_and_the_rest_adds_up(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """purge --before 2020-01-01 removes OTHER's 2019 stay (1 encounter, 1 diagnosis, 1 line, 1 patient touched);
    what remains is what status said before minus what was removed, and status afterwards agrees."""
    before = json_out(run_cli(capsys, "history", "status", "--data-dir", str(data_dir), "--json")[1])
    code, out, _ = run_cli(capsys, "history", "purge", "--before", "2020-01-01", "--data-dir", str(data_dir), "--json")
    doc = json_out(out)
    assert 0 == code
    assert {"encounters": 1, "diagnoses": 1, "lines": 1, "patients": 1} == doc["removed"]
    remaining = doc["remaining"]
    assert (before["encounters"] - 1, before["diagnoses"] - 1, before["lines"] - 1) == (
        remaining["encounters"], remaining["diagnoses"], remaining["lines"])  # fmt: skip
    assert (2, 2, 1, "2026-09-01") == (remaining["settlements"], remaining["patients"], remaining["carried"],
                                       remaining["oldest_visit"])  # fmt: skip
    after = json_out(run_cli(capsys, "history", "status", "--data-dir", str(data_dir), "--json")[1])
    assert remaining == {k: after[k] for k in remaining}


def test_purge_text_names_what_it_removed(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The text form of purge: one line with the day and what was removed, then what remains."""
    code, out, _ = run_cli(capsys, "history", "purge", "--before", "2026-10-15", "--data-dir", str(data_dir))
    lines = out.splitlines()
    assert 0 == code
    assert (f"purged visits before 2026-10-15 from {data_dir / 'history.sqlite3'}: 3 encounters, 3 diagnoses, "
            "3 lines of 2 patients") == lines[0]  # fmt: skip
    assert ["remaining:", "  patients     1"] == lines[1:3]


def test_purge_with_the_configured_retention(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """purge --retention drops what is dated before today minus `[history] retention_days` (400 here): a stay 500
    days ago goes, one 100 days ago stays."""
    today = date.today()
    path = tmp_path / "h.sqlite3"
    with HistoryStore(path) as store:
        for n, days_ago in enumerate((500, 100)):
            day = today - timedelta(days=days_ago)
            _settle(store, PATIENT.patn_id, stay(f"R{n}", day, day + timedelta(days=3), "I63.900"), f"SETL-R{n}")
    config = tmp_path / "fundguard.toml"
    config.write_text(f"[history]\npath = '{path}'\nretention_days = 400\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "history", "purge", "--retention", "--config", str(config), "--json")
    doc = json_out(out)
    assert (0, (today - timedelta(days=400)).isoformat()) == (code, doc["before"])
    assert (1, 1) == (doc["removed"]["encounters"], doc["remaining"]["encounters"])
    with HistoryStore(path) as store:
        assert ("R1",) == tuple(e.mdtrt_id for e in store.load(PATIENT.patn_id))


@pytest.mark.parametrize("day", ["2024/01/01", "20240101", "2024-13-01", "yesterday"])
def test_a_date_that_is_not_yyyy_mm_dd_exits_2_naming_before(
    day: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """purge --before with a day not in YYYY-MM-DD: exit 2, the message names --before, nothing is removed."""
    code, out, err = run_cli(capsys, "history", "purge", "--before", day, "--data-dir", str(data_dir))
    assert (2, "") == (code, out)
    assert f"fundguard: history purge: --before: {day!r} is not a date (YYYY-MM-DD)\n" == err
    with HistoryStore(data_dir / "history.sqlite3") as store:
        assert 4 == store.counts()["encounters"]


def test_purge_refuses_a_day_in_the_future(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --before after today (a typo for a past date) would wipe everything: exit 2 naming --before, nothing gone."""
    code, out, err = run_cli(capsys, "history", "purge", "--before", "2999-01-01", "--data-dir", str(data_dir))
    assert (2, "") == (code, out)
    assert "--before: 2999-01-01 is in the future" in err
    with HistoryStore(data_dir / "history.sqlite3") as store:
        assert 4 == store.counts()["encounters"]


def test_purge_needs_a_day_or_the_retention(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """purge with neither --before nor --retention is a usage error (exit 2) naming both options."""
    with pytest.raises(SystemExit) as exited:
        main(["history", "purge", "--data-dir", str(data_dir)])
    assert 2 == exited.value.code
    assert "one of the arguments --before --retention is required" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["status"], ["purge", "--before", "2020-01-01"], ["show", "P-1"]])
def test_a_missing_store_exits_2_naming_the_option_and_creates_nothing(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a store in --data-dir, every command exits 2 naming the file and --data-dir, and creates no store."""
    missing = tmp_path / "nothing-here"
    code, out, err = run_cli(capsys, "history", *command, "--data-dir", str(missing))
    assert (2, "") == (code, out)
    assert f"no history store at {missing / 'history.sqlite3'} (from --data-dir;" in err
    assert not missing.exists()


def test_a_bad_config_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A config whose [history] retention_days is out of range: exit 2 with the key named."""
    config = tmp_path / "fundguard.toml"
    config.write_text("[history]\nretention_days = 10\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "history", "status", "--config", str(config))
    assert 2 == code
    assert "history.retention_days" in err


def test_show_prints_the_patients_encounters(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """show --json: PATIENT's two stays by date with mdtrt_id, med_type, dates, main diagnosis and line count; the
    text form is a table with a header."""
    code, out, _ = run_cli(capsys, "history", "show", PATIENT.patn_id, "--data-dir", str(data_dir), "--json")
    assert 0 == code
    assert [{"visit_date": "2026-10-01", "mdtrt_id": "S1", "med_type": "21", "adm_date": "2026-10-01",
             "dscg_date": "2026-10-10", "main_diagnosis": "I63.900", "lines": 1},
            {"visit_date": "2026-10-20", "mdtrt_id": "S2", "med_type": "21", "adm_date": "2026-10-20",
             "dscg_date": "2026-10-30", "main_diagnosis": "I63.800",
             "lines": 2}] == json_out(out)["encounters"]  # fmt: skip
    code, out, _ = run_cli(capsys, "history", "show", OTHER, "--data-dir", str(data_dir))
    lines = out.splitlines()
    assert 0 == code
    assert f"patient {OTHER}: 2 encounters stored in {data_dir / 'history.sqlite3'}" == lines[0]
    header = ["visit_date", "adm_date", "dscg_date", "mdtrt_id", "med_type", "main_diagnosis", "lines"]
    assert header == lines[1].split()
    assert ["2019-03-01", "2019-03-01", "2019-03-09", "S0", "21", "J18.900", "1"] == lines[2].split()
    assert ["2026-09-01", "2026-09-01", "-", "S9", "11", "J18.900", "1"] == lines[3].split()


def test_show_of_a_patient_without_history_exits_1(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A patient the store holds nothing of: exit 1, "0 encounters" and no table."""
    code, out, _ = run_cli(capsys, "history", "show", "P-NOBODY-0001", "--data-dir", str(data_dir))
    assert (1, [f"patient P-NOBODY-0001: 0 encounters stored in {data_dir / 'history.sqlite3'}"]) == (
        code, out.splitlines())  # fmt: skip


def test_show_of_an_empty_id_exits_2_naming_it(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty (blank) PATN_ID: exit 2 naming PATN_ID."""
    code, _, err = run_cli(capsys, "history", "show", "  ", "--data-dir", str(data_dir))
    assert (2, "fundguard: history show: PATN_ID: the patient id is empty\n") == (code, err)


def test_show_logs_the_patient_id_masked_only(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """show prints the id to the operator (stdout) and writes one audit log line on stderr, `history.shown` (the
    agent's JSON logging, set up by the command), whose patient id is masked; the raw id is nowhere in the log."""
    code, out, err = run_cli(capsys, "history", "show", PATIENT.patn_id, "--data-dir", str(data_dir))
    (line,) = [json.loads(raw) for raw in err.splitlines()]
    assert (0, True) == (code, PATIENT.patn_id in out)
    assert ("history.shown", mask_value(PATIENT.patn_id), 2) == (line["event"], line["patn_id"], line["encounters"])
    assert PATIENT.patn_id not in err


def test_show_keeps_logging_an_embedder_configured(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """When logging is configured already (an embedding process), show logs there, still masked."""
    log = io.StringIO()
    configure_logging(LogSettings(), stream=log)
    code, _, err = run_cli(capsys, "history", "show", PATIENT.patn_id, "--data-dir", str(data_dir))
    (line,) = [json.loads(raw) for raw in log.getvalue().splitlines()]
    assert (0, "", mask_value(PATIENT.patn_id)) == (code, err, line["patn_id"])
    assert PATIENT.patn_id not in log.getvalue()
