"""proto_codec: the gRPC edge builds the same domain request as the JSON edge, and renders outcomes exactly."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from fundguard.agent.engine import model as m
from fundguard.agent.engine.errors import InvalidField
from fundguard.agent.intake import ParsedRequest, parse_request
from fundguard.agent.service import CheckOutcome
from fundguard.agent.transport.proto_codec import request_from_proto, response_to_proto
from fundguard.v1 import compliance_pb2 as pb

FULL: dict[str, Any] = {
    "trig_scen": " 4 ",
    "task_id": "T-1",
    "syscode": "HIS",
    "service_date": "2026-11-01",
    "locale": "en",
    "patient": {"patn_id": "P-12345601", "patn_name": "张三", "gend": "1", "brdy": "19510827", "poolarea": "110100"},
    "encounter": {
        "mdtrt_id": "E-1", "medins_id": "H11010500001", "medins_name": "医院", "medins_admdvs": "110105",
        "medins_type": "1", "medins_lv": "05", "med_mdtrt_type": "3", "med_type": "21", "insutype": "390",
        "out_setl_flag": "0", "adm_date": "2026-10-28 08:00:00", "dscg_date": "", "dscg_main_dise_codg": "i63.900",
        "dr_codg": "D110105000001", "matn_stas": "1", "medfee_sumamt": "1200.50", "internet_flag": "1",
        "diagnoses": [
            {"dise_id": "1", "inout_dise_type": "1", "maindise_flag": "1", "dise_codg": "i63.900",
             "dise_name": "脑梗死", "dise_date": "2026-10-28"},
            {"dise_codg": "e11.900", "maindise_flag": "0"},
        ],
        "orders": [
            {"rx_id": "6374", "hilist_code": "XG02BAZ061Z007010279543", "cnt": "1", "pric": "1153"},
            {"rx_id": "6375", "hilist_code": "XA11DAW036A001010104127", "cnt": " 2 ", "pric": "1.5",
             "sumamt": "2.80", "hilist_pric": "1.4", "hilist_name": "维生素B1片", "hilist_type": "101",
             "chrg_type": "09", "rxno": "R1", "grpno": "G1", "drord_begn_date": "2026-10-29 09:00:00",
             "drord_stop_date": "2026-10-31", "drord_dr_codg": "D1", "drord_dr_profttl": "233",
             "drord_dept_codg": "K1", "long_drord_flag": "1", "curr_drord_flag": "0", "hosplist_code": "H1",
             "spec_unt": "盒", "drord_bhvr": "1"},
            {"rx_id": "6376", "hilist_code": "001201000010000", "cnt": "3", "curr_drord_flag": "1"},
        ],
        "operations": [{"setl_list_oprn_id": "O1", "oprn_code": "45.1300", "oprn_name": "胃镜",
                        "main_oprn_flag": "1", "oprn_date": "2026-10-30"}],
    },
    "history": [{"mdtrt_id": "E-0", "med_type": "11",
                 "orders": [{"rx_id": "1", "hilist_code": "X", "cnt": "1", "drord_begn_date": "2026-09-01"}]}],
}


def to_proto(data: dict[str, Any]) -> pb.CheckRequest:
    """The proto message for a proto-JSON-shaped dict."""
    return json_format.ParseDict(data, pb.CheckRequest())


def from_both(data: dict[str, Any]) -> tuple[Any, Any]:
    """Run both edges; each gives ("ok", request, service_date) or ("invalid", field, message)."""

    def run(fn: Any, arg: Any) -> Any:
        try:
            parsed: ParsedRequest = fn(arg)
        except InvalidField as exc:
            return ("invalid", exc.field, exc.message)
        return ("ok", parsed.request, parsed.service_date)

    return run(parse_request, data), run(request_from_proto, to_proto(data))


def with_value(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of FULL with the value at `path` replaced."""
    data = copy.deepcopy(FULL)
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def test_full_request_gives_equal_domain_requests() -> None:
    """A request using every field gives equal domain requests and service dates through proto and JSON."""
    json_side, proto_side = from_both(FULL)
    assert "ok" == proto_side[0]
    assert json_side == proto_side


def test_proto_edge_normalises_like_the_json_edge() -> None:
    """Codes upper-cased, sumamt defaulted to cnt × pric, curr_drord_flag "0" a context line, blanks stripped."""
    parsed = request_from_proto(to_proto(FULL))
    enc = parsed.request.encounter
    expected_orders = [("6374", Decimal("1153"), True), ("6375", Decimal("2.80"), False), ("6376", Decimal(0), True)]
    assert ("I63.900", "E11.900") == tuple(d.dise_codg for d in enc.diagnoses)
    assert "I63.900" == enc.dscg_main_dise_codg
    assert expected_orders == [(o.rx_id, o.sumamt, o.current) for o in enc.orders]
    assert "4" == parsed.request.trig_scen
    assert date(1951, 8, 27) == parsed.request.patient.brdy
    assert date(2026, 11, 1) == parsed.service_date


def test_minimal_request_defaults() -> None:
    """Only the required fields: locale zh-CN, no service date, line current with zero price."""
    data = {"patient": {"patn_id": "P", "gend": "9", "brdy": "2000-01-01"},
            "encounter": {"mdtrt_id": "E", "orders": [{"rx_id": "1", "hilist_code": "X", "cnt": "2"}]}}
    json_side, proto_side = from_both(data)
    assert json_side == proto_side
    assert ("zh-CN", None) == (proto_side[1].locale, proto_side[2])


BAD = [
    ("missing patient", ("patient",), None, "patient"),
    ("gend absent", ("patient", "gend"), "", "patient.gend"),
    ("gend not national", ("patient", "gend"), "M", "patient.gend"),
    ("patn_id blank", ("patient", "patn_id"), "  ", "patient.patn_id"),
    ("brdy impossible", ("patient", "brdy"), "2024-13-45", "patient.brdy"),
    ("brdy absent", ("patient", "brdy"), "", "patient.brdy"),
    ("mdtrt_id absent", ("encounter", "mdtrt_id"), "", "encounter.mdtrt_id"),
    ("cnt not a number", ("encounter", "orders", 2, "cnt"), "abc", "encounter.orders[2].cnt"),
    ("cnt absent", ("encounter", "orders", 0, "cnt"), "", "encounter.orders[0].cnt"),
    ("cnt infinite", ("encounter", "orders", 0, "cnt"), "Infinity", "encounter.orders[0].cnt"),
    ("rx_id absent", ("encounter", "orders", 1, "rx_id"), "", "encounter.orders[1].rx_id"),
    ("hilist_code absent", ("encounter", "orders", 2, "hilist_code"), "", "encounter.orders[2].hilist_code"),
    ("pric bad", ("encounter", "orders", 1, "pric"), "1,5", "encounter.orders[1].pric"),
    ("order date bad", ("encounter", "orders", 1, "drord_begn_date"), "29/10/2026",
     "encounter.orders[1].drord_begn_date"),
    ("dise_codg absent", ("encounter", "diagnoses", 1, "dise_codg"), "", "encounter.diagnoses[1].dise_codg"),
    ("adm_date bad", ("encounter", "adm_date"), "yesterday", "encounter.adm_date"),
    ("oprn_date bad", ("encounter", "operations", 0, "oprn_date"), "x", "encounter.operations[0].oprn_date"),
    ("history cnt bad", ("history", 0, "orders", 0, "cnt"), "one", "history[0].orders[0].cnt"),
    ("trig_scen out of range", ("trig_scen",), "11", "trig_scen"),
    ("service_date bad", ("service_date",), "2026-02-30", "service_date"),
]


@pytest.mark.parametrize(("name", "path", "value", "field"), BAD, ids=[b[0] for b in BAD])
def test_invalid_input_names_the_same_field_on_both_edges(
    name: str, path: tuple[str | int, ...], value: Any, field: str
) -> None:
    """Each bad input is InvalidField with the same field path and message through proto and JSON."""
    data = with_value(path, value)
    if value is None:
        del data[path[0]]
    json_side, proto_side = from_both(data)
    assert ("invalid", field) == proto_side[:2]
    assert json_side == proto_side


def test_hosplist_code_alone_is_accepted_on_both_edges() -> None:
    """A line with only the hospital code is valid (the service maps it); both edges keep it the same way."""
    data = with_value(("encounter", "orders", 1, "hilist_code"), "")
    json_side, proto_side = from_both(data)
    assert "ok" == proto_side[0]
    assert json_side == proto_side
    line = proto_side[1].encounter.orders[1]
    assert ("", "H1") == (line.hilist_code, line.hosplist_code)


def test_present_but_empty_patient_names_patn_id() -> None:
    """An empty Patient message is present (HasField), so the first missing field is named, not `patient`."""
    msg = to_proto(FULL)
    msg.patient.Clear()
    with pytest.raises(InvalidField) as err:
        request_from_proto(msg)
    assert "patient.patn_id" == err.value.field


SCALARS = st.one_of(
    st.sampled_from(["", " ", "0", "1", "2", "9", "10", "11", "abc", "1e3", "NaN", "-0", " 12.50 ", "1e12",
                     "2024-13-45", "2024-01-31", "20240131", "2024/01/31", "2024-01-31T08:00:00", "i63.900"]),
    st.text(max_size=12),
)
TARGETS = [
    ("trig_scen",), ("service_date",), ("locale",), ("patient", "patn_id"), ("patient", "gend"),
    ("patient", "brdy"), ("encounter", "mdtrt_id"), ("encounter", "adm_date"), ("encounter", "internet_flag"),
    ("encounter", "dscg_main_dise_codg"), ("encounter", "diagnoses", 0, "dise_codg"),
    ("encounter", "diagnoses", 0, "maindise_flag"), ("encounter", "orders", 1, "cnt"),
    ("encounter", "orders", 1, "pric"), ("encounter", "orders", 1, "sumamt"), ("encounter", "orders", 1, "hilist_pric"),
    ("encounter", "orders", 1, "curr_drord_flag"), ("encounter", "orders", 1, "long_drord_flag"),
    ("encounter", "orders", 1, "drord_stop_date"), ("history", 0, "orders", 0, "drord_begn_date"),
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TARGETS), SCALARS), min_size=1, max_size=4))
def test_edges_agree_on_arbitrary_scalars(edits: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Whatever strings land in the scalar fields, both edges agree: equal requests or the same error."""
    data = copy.deepcopy(FULL)
    for path, value in edits:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    json_side, proto_side = from_both(data)
    assert json_side == proto_side


def _outcome(alerts: tuple[m.Alert, ...], micros: int = 42) -> CheckOutcome:
    result = m.CheckResult("J-1", "17", date(2026, 11, 1), alerts)
    return CheckOutcome(result, micros)


def _alert(impact: m.WorkflowImpact, amount: str) -> m.Alert:
    lines = (m.AlertLine("6374", "1", Decimal(amount)), m.AlertLine("6375", "2", Decimal("0")))
    return m.Alert("J-1-001", "GZ1", "药品区分性别使用", "药品区分性别使用", "KP-1", "text", "1", impact,
                   Decimal(amount), ("6374", "6375"), lines, "限女性", "E-1", "D1")


def test_response_renders_every_field() -> None:
    """Money has two places, the impact maps to the proto enum, lines and ids are kept, the date is ISO."""
    response = response_to_proto(_outcome((_alert(m.WorkflowImpact.BLOCK, "1153"),)), "T-9")
    expected = {
        "judgement_id": "J-1", "kb_revision": "17", "task_id": "T-9", "service_date": "2026-11-01",
        "engine_micros": 42,
        "alerts": [{
            "jr_id": "J-1-001", "rule_id": "GZ1", "rule_name": "药品区分性别使用", "kp_id": "KP-1",
            "vola_cont": "text", "sev_deg": "1", "workflow_impact": "WORKFLOW_IMPACT_BLOCK", "vola_amt": "1153.00",
            "rx_ids": ["6374", "6375"], "vola_evid": "限女性", "mdtrt_id": "E-1", "drord_dr_codg": "D1",
            "lines": [{"rx_id": "6374", "vola_item_type": "1", "vola_amt": "1153.00"},
                      {"rx_id": "6375", "vola_item_type": "2", "vola_amt": "0.00"}],
        }],
    }
    actual = json_format.MessageToDict(response, preserving_proto_field_name=True)
    assert expected == actual


@pytest.mark.parametrize(
    ("impact", "enum"),
    [(m.WorkflowImpact.BLOCK, pb.WORKFLOW_IMPACT_BLOCK),
     (m.WorkflowImpact.REASON_REQUIRED, pb.WORKFLOW_IMPACT_REASON_REQUIRED),
     (m.WorkflowImpact.INFO, pb.WORKFLOW_IMPACT_INFO)],
)
def test_workflow_impact_maps_to_enum(impact: m.WorkflowImpact, enum: int) -> None:
    """Each domain impact has its own proto enum value."""
    assert enum == response_to_proto(_outcome((_alert(impact, "1"),)), "").alerts[0].workflow_impact


@pytest.mark.parametrize(("amount", "text"), [("0.5", "0.50"), ("12.345", "12.34"), ("7", "7.00"), ("-1", "-1.00")])
def test_money_has_two_places(amount: str, text: str) -> None:
    """vola_amt is a decimal string with exactly two places."""
    assert text == response_to_proto(_outcome((_alert(m.WorkflowImpact.INFO, amount),)), "").alerts[0].vola_amt


def test_engine_micros_is_clamped_to_uint32() -> None:
    """An absurd engine time cannot overflow the uint32 field."""
    assert 2**32 - 1 == response_to_proto(_outcome((), micros=2**40), "").engine_micros


def test_no_alerts_is_an_empty_list() -> None:
    """A compliant encounter answers an empty alert list with the judgement and revision."""
    response = response_to_proto(_outcome(()), "")
    assert ("J-1", "17", []) == (response.judgement_id, response.kb_revision, list(response.alerts))
