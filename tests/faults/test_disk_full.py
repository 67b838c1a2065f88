"""Disk full under a running agent: its data dir (decisions, issued alerts, outbox, trace ledger, patient history) on a
small tmpfs that is filled to the last byte while it serves, then freed.

While full, checks are still answered with their alerts; what cannot be stored is refused to the caller (Feedback,
ConfirmSettlement, RecordDispense end with an error, so the HIS knows to send them again) or counted (the outbox's
refused events), never acknowledged and then lost; one alarm per store that cannot write is raised and exported as
`fundguard_alarm{name}`. Once space is back the same calls succeed, the alarms clear, and everything acknowledged
before, during and after the fault is still there — stored once — and reaches the central platform.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
from prometheus_client import generate_latest

from fundguard.v1 import compliance_pb2 as pb

from .conftest import Running, SmallDisk, box, dispense, male_iud, rpc_code, settlement

STORE_ALARMS = {"decisions", "history_store", "trace_ledger", "outbox_refusing"}


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` until true; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.05)


def _feedback(jr_id: str) -> pb.FeedbackRequest:
    return pb.FeedbackRequest(jr_id=jr_id, dspo_way="1", dspo_way_rea="患者知情同意")


def _inbound(*numbers: int) -> pb.ImportInboundRequest:
    codes = [pb.InboundCode(drug_trac_codg=box(n), manu_lotnum="260101", expy_end="2028-12-31") for n in numbers]
    return pb.ImportInboundRequest(codes=codes, source="delivery")


def _check_ids(run: Running) -> set[str]:
    return {p["judgement_id"] for p in run.central.payloads() if "judgement_id" in p and "alerts" in p}


def test_disk_full_keeps_checking_refuses_what_it_cannot_store_raises_alarms_and_recovers(
    small_disk: SmallDisk, start_agent: Callable[..., Running]
) -> None:
    """Fill the data disk while serving: checks still answered, writes refused with an error (not acknowledged),
    store alarms raised; free it: the same writes succeed, alarms clear, nothing acknowledged is lost."""
    run = start_agent(small_disk.path / "data", **{"health.min_free_mb": 0})
    stub, agent = run.stub, run.agent
    assert agent.alarms is not None and agent.uplink is not None
    before = [stub.Check(male_iud(n), timeout=10) for n in range(3)]
    assert "stored" == stub.Feedback(_feedback(before[0].alerts[0].jr_id), timeout=10).outcome
    assert stub.ConfirmSettlement(settlement(1), timeout=10).stored
    assert 2 == stub.ImportInbound(_inbound(1, 2), timeout=10).added
    assert stub.RecordDispense(dispense(1), timeout=10).accepted
    wait_for(lambda: agent.uplink is not None and agent.uplink.outbox.depth == 0, 20, "events uploaded")
    refused_before = agent.uplink.outbox.refused

    small_disk.fill()
    during = [stub.Check(male_iud(n), timeout=10) for n in range(10, 15)]
    assert [len(before[0].alerts)] * 5 == [len(r.alerts) for r in during]  # still serving, alerts and all
    assert grpc.StatusCode.OK != rpc_code(lambda: stub.Feedback(_feedback(during[0].alerts[0].jr_id), timeout=10))
    assert grpc.StatusCode.OK != rpc_code(lambda: stub.ConfirmSettlement(settlement(2), timeout=10))
    assert grpc.StatusCode.OK != rpc_code(lambda: stub.RecordDispense(dispense(2), timeout=10))
    refused = agent.uplink.outbox.refused - refused_before
    assert refused >= 1  # check events that could not be stored are counted, not lost unseen
    raised = agent.alarms.evaluate()
    assert STORE_ALARMS <= set(raised), raised
    assert str(small_disk.path / "data" / "decisions.sqlite3") in raised["decisions"]
    assert agent.metrics is not None
    scraped = generate_latest(agent.metrics.registry).decode()
    assert 'fundguard_alarm{name="decisions"} 1.0' in scraped
    assert 'fundguard_alarm{name="trace_ledger"} 1.0' in scraped

    small_disk.free()
    assert "stored" == stub.Feedback(_feedback(during[0].alerts[0].jr_id), timeout=10).outcome
    assert stub.ConfirmSettlement(settlement(2), timeout=10).stored
    assert stub.RecordDispense(dispense(2), timeout=10).accepted
    after = [stub.Check(male_iud(n), timeout=10) for n in range(20, 23)]
    wait_for(lambda: agent.alarms is not None and not agent.alarms.evaluate(), 10, "alarms cleared")
    wait_for(lambda: agent.uplink is not None and agent.uplink.outbox.depth == 0, 20, "backlog uploaded")

    # nothing acknowledged is lost: what was stored before the fault is still stored (once) ...
    assert "duplicate" == stub.Feedback(_feedback(before[0].alerts[0].jr_id), timeout=10).outcome
    assert not stub.ConfirmSettlement(settlement(1), timeout=10).stored
    assert stub.RecordDispense(dispense(1), timeout=10).repeat  # the sale of box 1 is still recorded (idempotent)
    # ... and every check whose event the outbox accepted reached the central, once
    answered = {r.judgement_id for r in [*before, *during, *after]}
    central = _check_ids(run)
    assert {r.judgement_id for r in [*before, *after]} <= central
    assert len(answered) - refused <= len(central & answered)
    assert 0 == run.central.duplicates
