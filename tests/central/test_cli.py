"""The `fundguard-central` command: report output on a small dataset, sanction, dev-certs, serve (a real process,
stopped by SIGTERM), and exit code 2 naming the field on bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from fundguard.central.cli import main
from fundguard.central.scoring import china_today
from fundguard.central.standing import add_months
from fundguard.central.store import Store
from fundguard.v1 import central_pb2 as pb
from fundguard.v1 import central_pb2_grpc as pb_grpc

from .dataset import fill
from .events import DOCTOR, INSTITUTION, event, upload

REPORT = """\
fundguard-central report as of 2026-03-15 (points of 2026)

H11010800001: events 7 (check 3, decision 2, dispense 1, unavailable 1), alerts 3, overrides 1
  practitioner   check  decision  dispense  unavailable  alerts  overrides  points  status
  -                  0         0         0            1       0          0
  D110108000001      2         2         0            0       2          1       9  suspended until 2026-06-10
  D110108000002      1         0         1            0       1          0       0  normal

H11010800002: events 1 (check 1), alerts 1, overrides 0
  practitioner   check  alerts  overrides  points  status
  D110108000001      1       1          0       9  suspended until 2026-06-10
  D110108000003      0       0          0       2  warned
"""


def test_report_text(store: Store, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The text report of the small dataset, exactly."""
    fill(store)
    assert 0 == main(["report", "--db", db_url, "--as-of", "2026-03-15"])
    assert REPORT == capsys.readouterr().out


def test_report_json_for_one_institution(store: Store, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--json --institution: one institution's figures as JSON."""
    fill(store)
    assert 0 == main(["report", "--db", db_url, "--as-of", "2026-03-15", "--json", "--institution", INSTITUTION])
    doc = json.loads(capsys.readouterr().out)
    assert [INSTITUTION] == [i["institution_code"] for i in doc["institutions"]]


def test_sanction_prints_the_new_standing(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`sanction --act` then `--points` (dated today) suspend the doctor for 3 months; each line says the points,
    the status, the end date and the revision."""
    today = china_today()
    assert 0 == main(["sanction", "--db", db_url, "--practitioner", DOCTOR, "--act", "art38_main"])
    assert 0 == main(["sanction", "--db", db_url, "--practitioner", DOCTOR, "--points", "1", "--note", "稽核"])
    until = add_months(today, 3).isoformat()
    assert [
        f"{DOCTOR}: +8 points (art38_main), 8 in {today.year}: warned; revision 1",
        f"{DOCTOR}: +1 points (points), 9 in {today.year}: suspended until {until}; revision 2",
    ] == capsys.readouterr().out.splitlines()


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--practitioner", DOCTOR, "--act", "nonsense"], "act:"),
        (["--practitioner", DOCTOR, "--points", "13"], "points:"),
        (["--practitioner", DOCTOR, "--points", "1", "--at", "03/01/2026"], "at:"),
        (["--practitioner", DOCTOR, "--points", "1", "--points-table", "missing.toml"], "points:"),
    ],
)
def test_bad_sanction_exits_2_naming_the_field(
    db_url: str, capsys: pytest.CaptureFixture[str], argv: list[str], field: str
) -> None:
    """Exit 2 and one line on stderr starting with the field."""
    assert 2 == main(["sanction", "--db", db_url, *argv])
    assert capsys.readouterr().err.startswith(f"fundguard-central: {field}")


def test_bad_db_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unusable database URL is refused naming `db`."""
    assert 2 == main(["report", "--db", "sqlite://"])
    assert capsys.readouterr().err.startswith("fundguard-central: db:")


def test_dev_certs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """dev-certs writes the CA, the server and each agent's folder, listing the files; a rerun has nothing to do."""
    out = tmp_path / "pki"
    assert 0 == main(
        ["dev-certs", "--out", str(out), "--agent", "agent-1", "--san", "central.example", "--san", "10.0.0.5"]
    )
    written = capsys.readouterr().out.split()
    assert 7 == len(written)
    assert (out / "agents" / "agent-1" / "client.key").exists()
    assert 0 == main(["dev-certs", "--out", str(out), "--agent", "agent-1"])
    assert capsys.readouterr().out.startswith("nothing to do")


def test_serve_requires_certs_or_insecure(capsys: pytest.CaptureFixture[str]) -> None:
    """serve without --certs or --insecure is a usage error (argparse exit 2)."""
    with pytest.raises(SystemExit) as caught:
        main(["serve"])
    assert 2 == caught.value.code
    assert "--certs" in capsys.readouterr().err


def test_serve_process_accepts_uploads_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`serve --listen 127.0.0.1:0 --insecure` prints its port, stores an upload, and exits 0 on SIGTERM."""
    db = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "fundguard.central.cli", "serve", "--listen", "127.0.0.1:0", "--db", db, "--insecure"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            port = int(line.split("127.0.0.1:")[1].split()[0])
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                ack = pb_grpc.CentralPlatformStub(channel).Upload(upload([event(1)]), timeout=10)
                statuses = pb_grpc.CentralPlatformStub(channel).PractitionerStatuses(pb.StatusesRequest(), timeout=10)
            proc.send_signal(signal.SIGTERM)
            assert 0 == proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert (1, 0) == (ack.new_events, statuses.revision)
    reopened = Store.open(db)
    assert 1 == reopened.count_events()
    reopened.close()
