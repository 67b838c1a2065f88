"""`fundguard kb keygen|build|sign|verify|diff|inspect` (and `kb import --exclude-batch`): the round trip keygen →
build → sign → verify (exit 0) → one flipped byte → verify (exit 1, reason on stderr); diff of the real revisions
lists exactly the 397 superseded points; every failure is one stderr line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fundguard.agent.cli import main
from fundguard.knowledge_base import default_bundle_path
from tests.conftest import SHARED_KP

from .conftest import UPDATE_BATCH, RealBundles

KEY = ["--key", "keys/bureau-2026.key", "--key-id", "bureau-2026"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `fundguard argv...`."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_keygen_build_sign_verify_then_a_flipped_byte_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """The whole round trip on the embedded default bundle, in the test's tmp dir."""
    assert 0 == run(capsys, "kb", "keygen", "--key-id", "bureau-2026", "--out", "keys")[0]
    assert 0 == run(capsys, "kb", "build", str(default_bundle_path()), "--out", "kb.fgkb")[0]
    code, out, _ = run(capsys, "kb", "sign", "kb.fgkb", *KEY)
    assert (0, "wrote kb.fgkb: signed with key 'bureau-2026'\n") == (code, out)
    code, out, err = run(capsys, "kb", "verify", "kb.fgkb", "--trusted", "keys")
    assert (0, "kb.fgkb: verified: full revision 1, key 'bureau-2026'\n", "") == (code, out, err)

    data = bytearray(Path("kb.fgkb").read_bytes())
    data[len(data) // 2] ^= 0x01  # somewhere in the compressed bundle.json
    Path("bad.fgkb").write_bytes(bytes(data))
    code, out, err = run(capsys, "kb", "verify", "bad.fgkb", "--trusted", "keys")
    assert (1, "") == (code, out)
    assert err.startswith("fundguard: bad.fgkb: rejected: bundle.json: damaged in the zip file"), err


def test_verify_of_an_unsigned_bundle_or_an_untrusted_key_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """Refusals are exit 1 with the reason."""
    run(capsys, "kb", "keygen", "--key-id", "bureau-2026", "--out", "keys")
    run(capsys, "kb", "keygen", "--key-id", "other", "--out", "others")
    run(capsys, "kb", "build", str(default_bundle_path()), "--out", "kb.fgkb")
    code, _, err = run(capsys, "kb", "verify", "kb.fgkb", "--trusted", "keys")
    assert (1, True) == (code, "rejected: no signature" in err)
    run(capsys, "kb", "sign", "kb.fgkb", "--key", "others/other.key", "--key-id", "other", "--out", "o.fgkb")
    code, _, err = run(capsys, "kb", "verify", "o.fgkb", "--trusted", "keys/bureau-2026.pub")
    assert (1, True) == (code, "rejected: unknown key id 'other'" in err)


def test_inspect_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    """inspect: the manifest, content and signature status as JSON; with --trusted the verdict."""
    run(capsys, "kb", "keygen", "--key-id", "bureau-2026", "--out", "keys")
    run(capsys, "kb", "build", str(default_bundle_path()), "--out", "kb.fgkb", "--issuer", "国家医保局")
    run(capsys, "kb", "sign", "kb.fgkb", *KEY)
    code, out, _ = run(capsys, "kb", "inspect", "kb.fgkb")
    report = json.loads(out)
    assert (0, "国家医保局", 397) == (code, report["manifest"]["issuer"], len(report["manifest"]["supersedes"]))
    assert report["signature"]["status"].endswith("not verified (no trusted keys given)")
    report = json.loads(run(capsys, "kb", "inspect", "kb.fgkb", "--trusted", "keys")[1])
    assert "verified with key 'bureau-2026'" == report["signature"]["status"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["kb", "verify", "missing.fgkb", "--trusted", "keys"], "cannot read missing.fgkb"),
        (["kb", "verify", "kb.fgkb", "--trusted", "nowhere"], "trusted keys nowhere"),
        (["kb", "sign", "kb.fgkb", "--key", "kb.fgkb", "--key-id", "x"], "sign: not an unencrypted PEM private key"),
        (["kb", "keygen", "--key-id", "bureau-2026", "--out", "keys"], "already exists"),
        (["kb", "keygen", "--key-id", "../x", "--out", "keys"], "keygen: key id '../x'"),
        (["kb", "build", "kb.fgkb", "--out", "x.fgkb"], "kb build: bundle.json: not UTF-8"),
        (["kb", "inspect", "keys/bureau-2026.pub"], "kb inspect: not a zip file"),
        (["kb", "diff", "kb.fgkb", "keys/bureau-2026.pub"], "kb diff: keys/bureau-2026.pub: not JSON"),
    ],
)
def test_a_command_that_cannot_run_exits_2_naming_the_problem(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """One stderr line, exit 2."""
    run(capsys, "kb", "keygen", "--key-id", "bureau-2026", "--out", "keys")
    run(capsys, "kb", "build", str(default_bundle_path()), "--out", "kb.fgkb")
    code, out, err = run(capsys, *argv)
    assert (2, "", 1) == (code, out, err.count("\n"))
    assert message in err, err


def test_kb_import_can_leave_the_2026_01_revision_out(capsys: pytest.CaptureFixture[str], real: RealBundles) -> None:
    """`kb import --exclude-batch updates_2026-01` writes the batch-1..17 bundle (the fixture's, byte for byte)."""
    code, out, _ = run(
        capsys, "kb", "import", str(SHARED_KP), "--out", "old", "--exclude-batch", UPDATE_BATCH, "--revision", "1"
    )
    assert (0, True) == (code, out.startswith("compiled 3,487 of 3,488 points"))
    assert real.old.read_bytes() == Path("old/bundle.json").read_bytes()
    assert [UPDATE_BATCH] == json.loads(Path("old/bundle.json").read_bytes())["source"]["excluded_batches"]


def test_diff_lists_exactly_the_397_superseded_points(capsys: pytest.CaptureFixture[str], real: RealBundles) -> None:
    """kb diff batch-1..17 → with 2026-01 (bundle.json and a bundle file alike): 397 superseded, named one by one."""
    run(capsys, "kb", "build", str(real.old), "--out", "old.fgkb")
    code, out, _ = run(capsys, "kb", "diff", "old.fgkb", str(real.new), "--list")
    assert 0 == code
    assert out.startswith("revision 1 -> 2: added 411, changed 397, withdrawn 0, superseded 397\n"), out[:200]
    listed = [line.split()[1] for line in out.splitlines() if line.startswith("superseded ")]
    named = {p["supersedes"] for p in json.loads(real.new.read_bytes())["points"] if p["supersedes"]}
    assert (397, named) == (len(listed), set(listed))

    doc = json.loads(run(capsys, "kb", "diff", str(real.old), str(real.new), "--json", "--list")[1])
    ids = {kp for entry in doc["classes"].values() for kp in entry["ids"]["superseded"]}
    assert (397, named) == (doc["totals"]["superseded"], ids)


def test_build_delta_from_a_base_then_sign_and_verify(capsys: pytest.CaptureFixture[str], real: RealBundles) -> None:
    """build --delta-from gives a delta on base 1 that signs and verifies."""
    run(capsys, "kb", "keygen", "--key-id", "bureau-2026", "--out", "keys")
    code, out, _ = run(capsys, "kb", "build", str(real.new), "--delta-from", str(real.old), "--out", "d.fgkb")
    assert (0, "wrote d.fgkb: unsigned delta bundle, revision 2 on base revision 1\n") == (code, out)
    run(capsys, "kb", "sign", "d.fgkb", *KEY, "--out", "d-signed.fgkb")
    code, out, _ = run(capsys, "kb", "verify", "d-signed.fgkb", "--trusted", "keys")
    assert (0, "d-signed.fgkb: verified: delta revision 2 on base revision 1, key 'bureau-2026'\n") == (code, out)
