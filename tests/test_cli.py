"""The `fundguard` command line, run as a subprocess (`python -m fundguard.agent.cli`) on request files.

Checks use the tiny KB of tests.samples (`--kb`), so they do not depend on the embedded bundle being current.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from fundguard.agent import cli
from fundguard.agent.engine import KbInvalid, build_index
from fundguard.knowledge_base import default_bundle_path
from tests.samples import compliant_3101, male_iud_3101, tiny_bundle

SHARED_KP = Path(__file__).resolve().parents[2] / "shared" / "nhsa-knowledge-points"
TIMEOUT = 60  # a guard against hangs, not a timing assertion


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI in a fresh interpreter; stdout/stderr captured as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "fundguard.agent.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        cwd=cwd,
        check=False,
    )


def stdout_json(proc: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    """stdout parsed as UTF-8 JSON."""
    doc: dict[str, Any] = json.loads(proc.stdout.decode("utf-8"))
    return doc


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    """The tiny bundle written to a file."""
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(tiny_bundle(), ensure_ascii=False), encoding="utf-8")
    return path


def write(tmp_path: Path, doc: Any, name: str = "request.json") -> Path:
    """A request file (dicts as UTF-8 JSON, bytes as given)."""
    path = tmp_path / name
    path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode("utf-8"))
    return path


def patient(doc: dict[str, Any]) -> dict[str, Any]:
    """The first patient of a 3101 envelope."""
    found: dict[str, Any] = doc["input"]["data"]["patient_dtos"][0]
    return found


def test_check_flags_the_is_request(tmp_path: Path, kb: Path) -> None:
    """The IS request exits 0 and prints the national response: one alert on rx_id 6374, Chinese unescaped."""
    proc = run("check", str(write(tmp_path, male_iud_3101())), "--kb", str(kb))
    response = stdout_json(proc)
    result = response["output"]["result"]
    expected = (0, b"", 0, ["6374"], ["GZ10000301004000"])
    assert expected == (
        proc.returncode,
        proc.stderr,
        response["infcode"],
        [d["rx_id"] for r in result for d in r["judge_result_detail_dtos"]],
        [r["rule_id"] for r in result],
    )
    assert "左炔诺孕酮宫内节育系统".encode() in proc.stdout


def test_check_compliant_request_has_an_empty_result(tmp_path: Path, kb: Path) -> None:
    """A compliant request exits 0 with output.result == []."""
    proc = run("check", str(write(tmp_path, compliant_3101())), "--kb", str(kb))
    expected = (0, 0, [])
    assert expected == (proc.returncode, stdout_json(proc)["infcode"], stdout_json(proc)["output"]["result"])


def test_check_reads_stdin_and_speaks_english(kb: Path) -> None:
    """`check -` reads the request from stdin; --lang en renders vola_cont in English."""
    raw = json.dumps(male_iud_3101()["input"], ensure_ascii=False).encode("utf-8")
    proc = run("check", "-", "--kb", str(kb), "--lang", "en", stdin=raw)
    expected = (
        0,
        "[左炔诺孕酮宫内节育系统] is for female patients only; the patient is male (药品区分性别使用).",
    )
    assert expected == (proc.returncode, stdout_json(proc)["output"]["result"][0]["vola_cont"])


def _refused(proc: subprocess.CompletedProcess[bytes]) -> tuple[int, int, str, str]:
    """(exit code, infcode, err_msg, stderr) of a refused check."""
    return (proc.returncode, stdout_json(proc)["infcode"], stdout_json(proc)["err_msg"], proc.stderr.decode())


def test_missing_patient_dtos_exits_2_naming_it(tmp_path: Path, kb: Path) -> None:
    """A request without patient_dtos exits 2; stdout's err_msg and stderr's one line name the field."""
    doc = male_iud_3101()
    del doc["input"]["data"]["patient_dtos"]
    code, infcode, err_msg, stderr = _refused(run("check", str(write(tmp_path, doc)), "--kb", str(kb)))
    expected = (2, -1, "input.data.patient_dtos: is required (参保人信息, the list of patients)", 1, True)
    assert expected == (code, infcode, err_msg, len(stderr.splitlines()), "input.data.patient_dtos" in stderr)


@pytest.mark.parametrize(
    ("field", "value", "err_msg"),
    [
        ("gend", None, "input.data.patient_dtos[0].gend: is required"),
        ("brdy", "2024-13-45", "input.data.patient_dtos[0].brdy: not a date: '2024-13-45' "
         "(expected yyyy-MM-dd or yyyy-MM-dd HH:mm:ss)"),
        ("cnt", "abc", "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[0].cnt: "
         "not a number: 'abc'"),
    ],
)  # fmt: skip
def test_bad_field_exits_2_naming_it(tmp_path: Path, kb: Path, field: str, value: Any, err_msg: str) -> None:
    """An absent gend, an impossible brdy or a non-numeric cnt exits 2 with the national path named."""
    doc = male_iud_3101()
    target = patient(doc) if field != "cnt" else patient(doc)["fsi_encounter_dtos"][0]["fsi_order_dtos"][0]
    if value is None:
        del target[field]
    else:
        target[field] = value
    code, infcode, actual_msg, stderr = _refused(run("check", str(write(tmp_path, doc)), "--kb", str(kb)))
    expected = (2, -1, err_msg, f"fundguard: invalid request: {err_msg}\n")
    assert expected == (code, infcode, actual_msg, stderr)


def test_flattened_request_exits_2_saying_nodes_must_be_nested(tmp_path: Path, kb: Path) -> None:
    """Orders at data level (the flattened anti-pattern) exit 2 with a message that they must be nested."""
    doc = male_iud_3101()
    doc["input"]["data"]["fsi_order_dtos"] = patient(doc)["fsi_encounter_dtos"][0].pop("fsi_order_dtos")
    code, _, err_msg, _ = _refused(run("check", str(write(tmp_path, doc)), "--kb", str(kb)))
    expected = (2, True, True)
    assert expected == (code, err_msg.startswith("input.data.fsi_order_dtos: "), "must be nested" in err_msg)


def test_five_megabytes_of_garbage_exit_2(tmp_path: Path, kb: Path) -> None:
    """5 MB of random bytes exit 2 as not JSON (fast: the KB is not even loaded)."""
    garbage = write(tmp_path, os.urandom(5 * 1024 * 1024), "garbage.bin")
    code, infcode, err_msg, stderr = _refused(run("check", str(garbage), "--kb", str(kb)))
    expected = (2, -1, True, True)
    assert expected == (
        code,
        infcode,
        err_msg.startswith("not JSON"),
        stderr.startswith("fundguard: invalid"),
    )


def test_deeply_nested_garbage_exits_2(tmp_path: Path, kb: Path) -> None:
    """5 MB of '[' (a recursion bomb for naive parsers) exits 2 cleanly, no traceback."""
    bomb = write(tmp_path, b"[" * (5 * 1024 * 1024), "bomb.json")
    code, infcode, err_msg, stderr = _refused(run("check", str(bomb), "--kb", str(kb)))
    expected = (
        2,
        -1,
        "not usable JSON (RecursionError)",
        "fundguard: invalid request: not usable JSON (RecursionError)\n",
    )
    assert expected == (code, infcode, err_msg, stderr)


def test_unreadable_file_exits_2(tmp_path: Path, kb: Path) -> None:
    """A request path that does not exist exits 2 with a clear message."""
    missing = tmp_path / "nope.json"
    code, infcode, err_msg, stderr = _refused(run("check", str(missing), "--kb", str(kb)))
    expected = (2, -1, f"cannot read {missing}: No such file or directory")
    assert expected == (code, infcode, err_msg)
    assert f"fundguard: check failed: {err_msg}\n" == stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "knowledge base not found: {path}"),
        (b"{not json", "knowledge base {path} is not valid: not JSON (unexpected character, expected a string key "
         "at line 1)"),
        (json.dumps({"format": "other"}).encode(), "knowledge base {path} is not valid: format: expected "
         "'fundguard-kb-bundle'"),
    ],
)  # fmt: skip
def test_bad_kb_exits_2(tmp_path: Path, content: bytes | None, message: str) -> None:
    """A missing, non-JSON or wrong-format KB bundle exits 2 with the bundle path and the reason."""
    path = tmp_path / "kb.json"
    if content is not None:
        path.write_bytes(content)
    proc = run("check", str(write(tmp_path, male_iud_3101())), "--kb", str(path))
    expected = (2, -1, message.format(path=path))
    assert expected == _refused(proc)[:3]


def test_check_uses_the_embedded_kb_by_default(tmp_path: Path) -> None:
    """Without --kb the embedded default bundle judges: the IS request still flags rx_id 6374."""
    try:
        build_index(json.loads(default_bundle_path().read_text(encoding="utf-8")))
    except (OSError, KbInvalid) as exc:
        pytest.skip(f"embedded bundle not usable by this engine yet: {exc}")
    proc = run("check", str(write(tmp_path, male_iud_3101())))
    result = stdout_json(proc)["output"]["result"]
    expected = (0, ["6374"])
    assert expected == (proc.returncode, [d["rx_id"] for r in result for d in r["judge_result_detail_dtos"]])


def test_version() -> None:
    """--version prints the version and exits 0."""
    proc = run("--version")
    expected = (0, True)
    assert expected == (proc.returncode, proc.stdout.decode().startswith("fundguard 0.1.0"))


def test_kb_import_writes_bundle_and_report(tmp_path: Path) -> None:
    """`kb import SRC` (default --out ./kb-out) writes bundle.json + review_report.md, prints the headline."""
    if not SHARED_KP.is_dir():
        pytest.skip(f"published knowledge points not at {SHARED_KP}")
    proc = run("kb", "import", str(SHARED_KP), cwd=tmp_path)
    out = tmp_path / "kb-out"
    lines = proc.stdout.decode().splitlines()
    bundle = json.loads((out / "bundle.json").read_text(encoding="utf-8"))
    expected = (0, True, True, "wrote kb-out/bundle.json and kb-out/review_report.md", "fundguard-kb-bundle")
    assert expected == (
        proc.returncode,
        lines[0].startswith("compiled ") and " of 3,899 points" in lines[0],
        (out / "review_report.md").read_text(encoding="utf-8").startswith("# Knowledge-base import report"),
        lines[1],
        bundle["format"],
    )


def test_kb_import_of_a_bad_source_exits_2(tmp_path: Path) -> None:
    """A source folder without the published files exits 2 with a one-line reason."""
    proc = run("kb", "import", str(tmp_path / "empty"), "--out", str(tmp_path / "out"))
    expected = (2, True, False)
    assert expected == (
        proc.returncode,
        proc.stderr.startswith(b"fundguard: kb import failed: "),
        (tmp_path / "out").exists(),
    )


def test_serve_delegates_to_the_composition_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve` hands the config path and every listener flag to agent.app.run_serve and returns its exit code."""
    calls: list[tuple[Any, ...]] = []

    def fake_run_serve(config_file: Path | None, overrides: dict[str, Any]) -> int:
        calls.append((config_file, overrides))
        return 3

    fake_app = types.ModuleType("fundguard.agent.app")
    fake_app.run_serve = fake_run_serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fundguard.agent.app", fake_app)
    code = cli.main(
        ["serve", "--grpc", "127.0.0.1:0", "--kb", "b.json", "--config", "f.toml", "--http", "127.0.0.1:8080",
         "--mllp", "127.0.0.1:2575", "--drop-dir", "drop", "--code-map", "map.csv", "--data-dir", "state"]
    )  # fmt: skip
    overrides = {
        "grpc.address": "127.0.0.1:0", "http.address": "127.0.0.1:8080", "mllp.address": "127.0.0.1:2575",
        "drop.dir": Path("drop"), "codes.map_file": Path("map.csv"), "data.dir": Path("state"),
        "kb.path": Path("b.json"),
    }  # fmt: skip
    expected = (3, [(Path("f.toml"), overrides)])
    assert expected == (code, calls)


def test_no_command_is_a_usage_error() -> None:
    """Running without a command exits 2 with usage on stderr."""
    proc = run()
    expected = (2, True)
    assert expected == (proc.returncode, b"usage: fundguard" in proc.stderr)
