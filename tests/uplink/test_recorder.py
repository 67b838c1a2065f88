"""The recorder as the check service's observer: a real check lands in the outbox before `check` returns, with
its alerts and the pseudonymised patient, nothing of the patient in the logs; decisions only when stored; an
observer that cannot record never fails the check; the identity secret is read with key-named errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from fundguard.adapters.his import nhsa_json
from fundguard.agent.config import UplinkSettings
from fundguard.agent.feedback.issued import IssuedAlert
from fundguard.agent.feedback.store import Decision, StoreResult
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from fundguard.agent.uplink.events import IdentityMode
from fundguard.agent.uplink.outbox import Outbox
from fundguard.agent.uplink.recorder import UplinkRecorder, load_identity
from fundguard.knowledge_base import default_bundle_path

from ..samples import SEX_DRUG_RULE_ID, male_iud_3101

NOW = datetime(2025, 6, 14, 14, 27, tzinfo=UTC)
SECRET = b"s3cret"


def outbox(tmp_path: Path) -> Outbox:
    """An outbox in tmp_path on a fixed clock."""
    return Outbox(tmp_path / "outbox.sqlite3", 64 * 1024 * 1024, clock=lambda: NOW, agent_id="agent-1")


def test_a_check_is_in_the_outbox_when_check_returns(tmp_path: Path) -> None:
    """The IUD for a man: the check event holds the sex rule's alert with the doctor, the pseudonymised patient;
    no log line carries the patient id."""
    store = KbStore()
    store.load(default_bundle_path())
    box = outbox(tmp_path)
    recorder = UplinkRecorder(box, IdentityMode("pseudonymised", SECRET))
    service = CheckService(store, clock=lambda: NOW, observers=(recorder.check,))
    (parsed,) = nhsa_json.decode(male_iud_3101())
    with capture_logs() as logs:
        outcome = service.check(parsed)
    event, *_ = box.take(10)
    payload = json.loads(event.payload_json)
    assert ("check", "2001668", "ys01") == (event.kind, event.mdtrt_id, event.practitioner_code)
    assert outcome.result.judgement_id == payload["judgement_id"]
    assert SEX_DRUG_RULE_ID in {a["rule_id"] for a in payload["alerts"]}
    assert {"ys01"} == {a["practitioner_code"] for a in payload["alerts"]}
    assert IdentityMode("pseudonymised", SECRET).patient_id("1058158") == payload["patient"]["patn_id"]
    assert "1058158" not in event.payload_json.decode()
    assert "1058158" not in repr(logs)
    sex_alert = next(a for a in outcome.result.alerts if a.rule_id == SEX_DRUG_RULE_ID)
    decision = Decision(sex_alert.jr_id, "1", "患者知情同意", "1", "nhsa-3103", "2025-06-14T14:30:00")
    recorder.decisions([decision], [StoreResult.STORED])
    _, decided = box.take(10)
    assert ("decision", str(sex_alert.workflow_impact)) == (decided.kind, json.loads(decided.payload_json)[
        "workflow_impact"])  # fmt: skip


def test_only_decisions_stored_now_become_events(tmp_path: Path) -> None:
    """A repeat, a conflict or an unknown jr_id is not a new decision; a stored one names its encounter."""
    box = outbox(tmp_path)
    issued = {"A1": IssuedAlert("A1", "J-1", "R1", "c", "KP-1", "2001668", "D430702000002", ("6374",))}
    recorder = UplinkRecorder(box, IdentityMode("full"), issued.get)
    decisions = [Decision(j, "2", "", "1", "nhsa-3103", "2025-06-14T10:00:00") for j in ("A1", "A2", "A3", "A4")]
    results = [StoreResult.STORED, StoreResult.DUPLICATE, StoreResult.CONFLICT, StoreResult.UNKNOWN]
    recorder.decisions(decisions, results)
    (event,) = box.take(10)
    assert ("decision", "2001668", "D430702000002") == (event.kind, event.mdtrt_id, event.practitioner_code)


def test_an_observer_that_cannot_record_never_raises(tmp_path: Path) -> None:
    """A failing lookup is counted and logged by kind only; a closed outbox refuses and counts."""
    box = outbox(tmp_path)

    def broken(_jr_id: str) -> IssuedAlert | None:
        raise OSError("disk gone")

    recorder = UplinkRecorder(box, IdentityMode("full"), broken)
    with capture_logs() as logs:
        recorder.decisions([Decision("A1", "2", "", "1", "x", "t")], [StoreResult.STORED])
    assert 1 == recorder.failures
    assert [
        {"event": "uplink.event_not_recorded", "kind": "decision", "error": "OSError", "log_level": "error"}
    ] == logs
    (parsed,) = nhsa_json.decode(male_iud_3101())
    box.record("check", "", "", {})  # this thread's connection exists, then the file is closed under it
    box.close()
    recorder.unavailable(parsed, "budget", "r1")
    assert 1 == box.refused


def test_load_identity(tmp_path: Path) -> None:
    """full needs no secret; pseudonymised reads the secret file (trimmed); a missing or empty file is named."""
    assert IdentityMode("full") == load_identity(UplinkSettings(identity="full"))
    secret = tmp_path / "secret"
    secret.write_bytes(b"  k3y\n")
    assert IdentityMode("pseudonymised", b"k3y") == load_identity(UplinkSettings(identity_secret_file=secret))
    for path, problem in ((tmp_path / "nope", "cannot read"), (tmp_path / "empty", "is empty"), (None, "required")):
        if path is not None and path.name == "empty":
            path.write_bytes(b"\n")
        with pytest.raises(ValueError, match=f"uplink.identity_secret_file: .*{problem}"):
            load_identity(UplinkSettings(identity_secret_file=path))
