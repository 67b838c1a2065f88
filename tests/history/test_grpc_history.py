"""The history behind the agent's own gRPC service, wired by the composition root: ConfirmSettlement stores a
settlement once, the next Check sees it (分解住院 on day 10, not on day 16), a restarted agent still has it, bad
input is INVALID_ARGUMENT naming the field, and the 政策辅导期 from `[institution]` blocks a cross-province
encounter until it ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from fundguard.agent.app import Agent, build_agent
from fundguard.agent.config import load_settings
from fundguard.v1 import compliance_pb2 as pb
from fundguard.v1 import compliance_pb2_grpc as pb_grpc
from tests.transport.test_grpc_server import bad_request_fields, rpc_error

from .samples import TIANMA


@contextmanager
def serving(data_dir: Path, **config: Any) -> Iterator[pb_grpc.ComplianceAgentStub]:
    """An agent on a free port with its data in `data_dir`, stopped afterwards."""
    agent: Agent = build_agent(load_settings(None, {"grpc.address": "127.0.0.1:0", "data.dir": data_dir, **config}))
    agent.start()
    try:
        with grpc.insecure_channel(agent.address) as channel:
            yield pb_grpc.ComplianceAgentStub(channel)
    finally:
        agent.stop(grace=0)


def _patient() -> pb.Patient:
    return pb.Patient(patn_id="P-GRPC-000001", gend="1", brdy="1950-04-04")


def _settlement(setl_id: str = "SETL-0001") -> pb.ConfirmSettlementRequest:
    order = pb.Order(rx_id="T0", hilist_code=TIANMA, hilist_name="天麻素注射液", cnt="10", pric="10",
                     drord_begn_date="2026-10-01", drord_stop_date="2026-10-10")  # fmt: skip
    diagnosis = pb.Diagnosis(dise_codg="I63.900", maindise_flag="1", inout_dise_type="2")
    encounter = pb.Encounter(mdtrt_id="S1", med_type="21", adm_date="2026-10-01 09:00:00",
                             dscg_date="2026-10-10 10:00:00", dscg_main_dise_codg="I63.900", diagnoses=[diagnosis],
                             orders=[order])  # fmt: skip
    return pb.ConfirmSettlementRequest(patient=_patient(), encounter=encounter, setl_id=setl_id,
                                       setl_time="2026-10-10 16:30:00")  # fmt: skip


def _admission(day: str, *, out_setl_flag: str = "2", days: int = 0) -> pb.CheckRequest:
    """An inpatient check on `day` for I63.800 (optionally with `days` days of 天麻素 from that day)."""
    orders = [pb.Order(rx_id="B1", hilist_code="001102000010000", hilist_name="诊查费", cnt="1", pric="10",
                       drord_begn_date=day)]  # fmt: skip
    if days:
        stop = f"{day[:8]}{int(day[8:]) + days - 1:02d}"
        orders.append(pb.Order(rx_id="T1", hilist_code=TIANMA, hilist_name="天麻素注射液", cnt=str(days), pric="10",
                               drord_begn_date=day, drord_stop_date=stop))  # fmt: skip
    encounter = pb.Encounter(mdtrt_id=f"S-{day}", med_type="21", adm_date=day, out_setl_flag=out_setl_flag,
                             diagnoses=[pb.Diagnosis(dise_codg="I63.800", maindise_flag="1", inout_dise_type="1")],
                             orders=orders)  # fmt: skip
    return pb.CheckRequest(trig_scen="3", service_date=day, patient=_patient(), encounter=encounter)


def _rules(response: pb.CheckResponse) -> set[str]:
    return {a.rule_id for a in response.alerts}


def test_a_confirmed_settlement_is_stored_once_and_survives_a_restart(tmp_path: Path) -> None:
    """ConfirmSettlement twice: stored, then not stored again (one encounter). A readmission on day 10 is flagged as
    分解住院 and the 天麻素 course is counted across the stays; on day 16 it is not 分解住院. After a restart on
    the same data dir the history is still there."""
    data = tmp_path / "data"
    with serving(data) as stub:
        first = stub.ConfirmSettlement(_settlement(), timeout=10)
        again = stub.ConfirmSettlement(_settlement(), timeout=10)
        assert ((True, 1), (False, 1)) == ((first.stored, first.patient_encounters),
                                           (again.stored, again.patient_encounters))  # fmt: skip
        day10 = stub.Check(_admission("2026-10-20", days=6), timeout=10)
        assert {"FG-HIST-SPLIT", "GZ10000101010000"} <= _rules(day10)
        assert "FG-HIST-SPLIT" not in _rules(stub.Check(_admission("2026-10-26"), timeout=10))
    with serving(data) as stub:
        assert "FG-HIST-SPLIT" in _rules(stub.Check(_admission("2026-10-20"), timeout=10))
        assert stub.ConfirmSettlement(_settlement(), timeout=10).stored is False
        assert stub.ConfirmSettlement(_settlement("SETL-0002"), timeout=10).patient_encounters == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r.ClearField("setl_id"), "setl_id"),
        (lambda r: setattr(r, "setl_time", "yesterday"), "setl_time"),
        (lambda r: r.ClearField("patient"), "patient"),
        (lambda r: setattr(r.patient, "gend", "X"), "patient.gend"),
        (lambda r: r.ClearField("encounter"), "encounter"),
        (lambda r: setattr(r.encounter, "mdtrt_id", " "), "encounter.mdtrt_id"),
        (lambda r: setattr(r.encounter.orders[0], "cnt", "ten"), "encounter.orders[0].cnt"),
        (lambda r: setattr(r.encounter, "dscg_date", "2026-13-40"), "encounter.dscg_date"),
    ],
)
def test_bad_settlement_is_invalid_argument_naming_the_field(tmp_path: Path, change: Any, field: str) -> None:
    """Each defect is refused with INVALID_ARGUMENT and a BadRequest naming its field; nothing is stored."""
    with serving(tmp_path / "data") as stub:
        request = _settlement()
        change(request)
        err = rpc_error(lambda r: stub.ConfirmSettlement(r, timeout=10), request)
        assert (grpc.StatusCode.INVALID_ARGUMENT, [field]) == (err.code(), bad_request_fields(err))
        assert stub.ConfirmSettlement(_settlement(), timeout=10).patient_encounters == 1


def test_the_guidance_period_blocks_cross_province_until_it_ends(tmp_path: Path) -> None:
    """With the agreement in force from 2026-06-01, a cross-province (out_setl_flag 4) encounter on 2026-10-20 is
    blocked with the reason; a local one is not; on 2026-12-01 (6 months on) the cross-province one is not."""
    with serving(tmp_path / "data", **{"institution.agreement_start": "2026-06-01"}) as stub:
        blocked = stub.Check(_admission("2026-10-20", out_setl_flag="4"), timeout=10)
        (alert,) = [a for a in blocked.alerts if a.rule_id == "FG-INST-GUIDANCE"]
        assert (pb.WORKFLOW_IMPACT_BLOCK, "1", ["B1"]) == (alert.workflow_impact, alert.sev_deg, list(alert.rx_ids))
        assert "政策辅导期" in alert.vola_cont and "跨省异地就医" in alert.vola_cont
        assert "FG-INST-GUIDANCE" not in _rules(stub.Check(_admission("2026-10-20"), timeout=10))
        after = _admission("2026-12-01", out_setl_flag="4")
        assert "FG-INST-GUIDANCE" not in _rules(stub.Check(after, timeout=10))


def test_history_off_leaves_confirm_settlement_unimplemented(tmp_path: Path) -> None:
    """`[history] enabled = false`: no store file, ConfirmSettlement is UNIMPLEMENTED, checks still run."""
    with serving(tmp_path / "data", **{"history.enabled": False}) as stub:
        err = rpc_error(lambda r: stub.ConfirmSettlement(r, timeout=10), _settlement())
        assert grpc.StatusCode.UNIMPLEMENTED == err.code()
        assert "FG-HIST-SPLIT" not in _rules(stub.Check(_admission("2026-10-20"), timeout=10))
    assert not (tmp_path / "data" / "history.sqlite3").exists()
