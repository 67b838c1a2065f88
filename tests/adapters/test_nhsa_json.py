"""National 3101/3102 JSON adapter: decode what real HIS send, refuse flattened layouts, answer nationally.

Checks run on the tiny KB of tests.samples (the IUD is for women) with a fixed clock and judgement id, so the
encoded response is compared whole.
"""

from __future__ import annotations

import copy
import json
from datetime import date, datetime
from typing import Any

import pytest

from fundguard.adapters.his import nhsa_json
from fundguard.agent.engine import build_index
from fundguard.agent.engine.errors import InvalidField, KbUnavailable
from fundguard.agent.intake import ParsedRequest
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckService
from tests.samples import IUD_CODE, IUD_KP_ID, compliant_3101, iud_order, male_iud_3101, order, tiny_bundle

RECEIVED = datetime(2025, 6, 14, 14, 27, 24, 123456)
RESPONDED = datetime(2025, 6, 14, 14, 27, 24, 301999)
JUDGEMENT = "0123456789abcdef0123456789abcdef"
IUD_FOR_MALE_TEXT = "【左炔诺孕酮宫内节育系统】限女性使用，参保人性别为男性（药品区分性别使用）。"
DATE_HINT = "(expected yyyy-MM-dd or yyyy-MM-dd HH:mm:ss)"


@pytest.fixture
def service() -> CheckService:
    """A check service on the tiny KB with a fixed clock and judgement id."""
    store = KbStore()
    store.activate(build_index(tiny_bundle()), "tests.samples")
    return CheckService(store, clock=lambda: datetime(2025, 6, 14, 15, 0), new_id=lambda: JUDGEMENT)


def _respond(doc: Any, service: CheckService, **kw: Any) -> dict[str, Any]:
    requests = nhsa_json.decode(doc, **kw)
    outcomes = [service.check(r) for r in requests]
    return nhsa_json.encode(
        outcomes, requests, nhsa_json.transaction(doc), refmsg_time=RECEIVED, respond_time=RESPONDED
    )


def _data(doc: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = doc["input"]["data"]
    return data


def _patient(doc: dict[str, Any], n: int = 0) -> dict[str, Any]:
    patient: dict[str, Any] = _data(doc)["patient_dtos"][n]
    return patient


def _encounter(doc: dict[str, Any], n: int = 0) -> dict[str, Any]:
    encounter: dict[str, Any] = _patient(doc)["fsi_encounter_dtos"][n]
    return encounter


def _error(doc: Any) -> InvalidField:
    with pytest.raises(InvalidField) as caught:
        nhsa_json.decode(doc)
    return caught.value


def _only(requests: list[ParsedRequest]) -> ParsedRequest:
    expected = 1
    assert expected == len(requests)
    return requests[0]


# --- the IS request --------------------------------------------------------------------------------------


def test_is_request_male_iud_gives_one_alert_in_national_shape(service: CheckService) -> None:
    """The IS 3101 (male patient, IUD line 6374) answers one 药品区分性别使用 alert linked to rx_id 6374."""
    jr_id = f"{JUDGEMENT}-001"
    expected = {
        "infcode": 0,
        "inf_refmsgid": JUDGEMENT[:30],
        "refmsg_time": "20250614142724123",
        "respond_time": "20250614142724301",
        "enctype": "",
        "signtype": "",
        "cainfo": "",
        "err_msg": "",
        "warn_msg": "",
        "output": {
            "result": [
                {
                    "jr_id": jr_id,
                    "rule_id": "GZ10000301004000",
                    "rule_name": "药品区分性别使用",
                    "vola_cont": IUD_FOR_MALE_TEXT,
                    "patn_id": "1058158",
                    "mdtrt_id": "2001668",
                    "judge_result_detail_dtos": [
                        {
                            "jrd_id": f"{jr_id}-01",
                            "patn_id": "1058158",
                            "mdtrt_id": "2001668",
                            "rx_id": "6374",
                            "vola_item_type": "1",
                            "vola_amt": "1153.00",
                        }
                    ],
                    "vola_amt": "1153.00",
                    "vola_amt_stas": "1",
                    "sev_deg": "2",
                    "vola_evid": "避孕，3 年有效。",
                    "vola_bhvr_type": "",
                    "task_id": "TASK-20250614-0001",
                    "kp_id": IUD_KP_ID,
                    "workflow_impact": "reason-required",
                    "kb_revision": "7",
                    "rule_class": "药品区分性别使用",
                }
            ]
        },
    }
    assert expected == _respond(male_iud_3101(), service)


def test_is_request_decodes_to_the_domain_request() -> None:
    """Numbers, numeric flags, null dates and local codes of the IS payload become the domain values."""
    request = _only(nhsa_json.decode(male_iud_3101())).request
    expected = ("4", "1058158", "1", date(1951, 8, 27))
    assert expected == (
        request.trig_scen,
        request.patient.patn_id,
        request.patient.gend,
        request.patient.brdy,
    )
    enc = request.encounter
    expected = ("2001668", "21", date(2025, 5, 4), None)
    assert expected == (enc.mdtrt_id, enc.med_type, enc.adm_date, enc.dscg_date)
    expected = [("6374", True), ("6371", False), ("6372", False)]
    assert expected == [(o.rx_id, o.current) for o in enc.orders]
    iud = enc.orders[0]
    expected = (IUD_CODE, "1", "1153", "1153", "ys01")
    assert expected == (
        iud.hilist_code,
        str(iud.cnt),
        str(iud.pric),
        str(iud.sumamt),
        iud.drord_dr_codg,
    )
    expected = [True, False, False, False]
    assert expected == [d.maindise_flag for d in enc.diagnoses]
    expected = ()
    assert expected == request.history


def test_compliant_request_gives_an_empty_result(service: CheckService) -> None:
    """A woman getting the IUD complies: infcode 0 and output.result is an empty list."""
    response = _respond(compliant_3101(), service)
    expected = (0, "", [])
    assert expected == (response["infcode"], response["err_msg"], response["output"]["result"])


def test_english_locale_renders_english_text(service: CheckService) -> None:
    """decode(locale="en") gives the alert text in English."""
    response = _respond(male_iud_3101(), service, locale="en")
    expected = "[左炔诺孕酮宫内节育系统] is for female patients only; the patient is male (药品区分性别使用)."
    assert expected == response["output"]["result"][0]["vola_cont"]


# --- what real HIS send ----------------------------------------------------------------------------------


def test_envelope_input_and_data_levels_decode_alike() -> None:
    """The envelope, just `input`, just `data`, or the envelope as JSON text/bytes give the same request."""
    doc = male_iud_3101()
    text = json.dumps(doc, ensure_ascii=False)
    variants = [
        doc["input"],
        doc["input"]["data"],
        text,
        text.encode("utf-8"),
        b"\xef\xbb\xbf" + text.encode(),
        "\ufeff" + text,
    ]
    expected = _only(nhsa_json.decode(doc)).request
    assert [expected] * len(variants) == [_only(nhsa_json.decode(v)).request for v in variants]


def test_gb18030_bytes_are_tolerated() -> None:
    """A request saved by a GBK HIS (not UTF-8) still decodes, Chinese names intact."""
    raw = json.dumps(male_iud_3101(), ensure_ascii=False).encode("gb18030")
    expected = "左炔诺孕酮宫内节育系统"
    assert expected == _only(nhsa_json.decode(raw)).request.encounter.orders[0].hilist_name


@pytest.mark.parametrize(
    ("order_field", "value"),
    [
        ("cnt", "1"),
        ("cnt", 1.0),
        ("cnt", "1.00"),
        ("pric", "1153"),
        ("pric", 1153.0),
        ("curr_drord_flag", "1"),
    ],
)
def test_numbers_as_strings_or_numbers_decode_alike(order_field: str, value: Any) -> None:
    """cnt/pric/flags as JSON numbers or strings give the same line (numerically)."""
    doc = male_iud_3101()
    _encounter(doc)["fsi_order_dtos"][0][order_field] = value
    base = _only(nhsa_json.decode(male_iud_3101())).request.encounter.orders[0]
    line = _only(nhsa_json.decode(doc)).request.encounter.orders[0]
    assert (base.cnt, base.pric, base.current) == (line.cnt, line.pric, line.current)


def test_nulls_empty_strings_and_numeric_ids_are_tolerated() -> None:
    """null/"" for optional dates, amounts and nodes, numeric gend, ids and curr_mdtrt_id decode fine."""
    doc = male_iud_3101()
    patient = _patient(doc)
    patient.update({"gend": 1, "patn_id": 1058158, "curr_mdtrt_id": 2001668, "poolarea": None})
    enc = _encounter(doc)
    enc.update({"mdtrt_id": 2001668, "dscg_date": "", "adm_date": None, "fsi_operation_dtos": "", "medins_lv": ""})
    enc["fsi_order_dtos"][0].update({"sumamt": "", "hilist_pric": None, "drord_begn_date": None})
    enc["fsi_diagnose_dtos"][0].update({"dise_date": None, "maindise_flag": "1"})
    request = _only(nhsa_json.decode(doc)).request
    line = request.encounter.orders[0]
    expected = ("1", "1058158", "2001668", None, (), None)
    assert expected == (
        request.patient.gend,
        request.patient.patn_id,
        request.encounter.mdtrt_id,
        request.encounter.adm_date,
        request.encounter.operations,
        line.begn_date,
    )
    expected = ("1153", True)
    assert expected == (str(line.sumamt), request.encounter.diagnoses[0].maindise_flag)


def test_vendor_extras_are_ignored() -> None:
    """Unknown keys at every level (mode, order_id, TarItemID, nested objects) change nothing."""
    doc = male_iud_3101()
    doc["vendor"] = {"nested": [1, 2]}
    _data(doc).update({"mode": "院端智审", "hosp_ext": None})
    _patient(doc).update({"fsi_his_data_dto": {"x": 1}, "card_no": "A123"})
    _encounter(doc).update({"TarItemID": "T1", "orders": "not ours"})
    for line in _encounter(doc)["fsi_order_dtos"]:
        line.update({"order_id": 99, "TarItemID": ["x"], "ext": {"a": None}})
    assert _only(nhsa_json.decode(male_iud_3101())).request == _only(nhsa_json.decode(doc)).request


def test_a_lone_object_counts_as_a_list_of_one() -> None:
    """A node sent as one object instead of a one-item list is accepted."""
    doc = male_iud_3101()
    _encounter(doc)["fsi_order_dtos"] = iud_order()
    _data(doc)["patient_dtos"] = _patient(doc)
    expected = ["6374"]
    assert expected == [o.rx_id for o in _only(nhsa_json.decode(doc)).request.encounter.orders]


# --- encounters, history, patients -----------------------------------------------------------------------


def _two_encounters(curr: Any) -> dict[str, Any]:
    doc = male_iud_3101()
    earlier = copy.deepcopy(_encounter(doc))
    earlier.update(
        {
            "mdtrt_id": "1990001",
            "fsi_order_dtos": [order("5001", "XA11DAW036A001010104127", "维生素B1片", 2, 1)],
        }
    )
    later = copy.deepcopy(_encounter(doc))
    later.update(
        {
            "mdtrt_id": "2001900",
            "fsi_order_dtos": [order("7001", "XA11GAW043A001010201815", "维生素C片", 1, 2)],
        }
    )
    _patient(doc)["fsi_encounter_dtos"] = [earlier, later, _encounter(doc)]
    _patient(doc)["curr_mdtrt_id"] = curr
    return doc


def test_curr_mdtrt_id_picks_the_encounter_and_the_others_go_to_history(service: CheckService) -> None:
    """With three encounters, curr_mdtrt_id picks the one checked; the other two become history, in order."""
    doc = _two_encounters("2001900")
    request = _only(nhsa_json.decode(doc)).request
    expected = ("2001900", ["1990001", "2001668"])
    assert expected == (
        request.encounter.mdtrt_id,
        [e.mdtrt_id for e in request.history],
    )
    expected = []
    assert expected == _respond(doc, service)["output"]["result"]


def test_curr_mdtrt_id_of_the_last_encounter_checks_it(service: CheckService) -> None:
    """Pointing curr_mdtrt_id at the IUD encounter (third in the list) flags it, with that mdtrt_id."""
    result = _respond(_two_encounters("2001668"), service)["output"]["result"]
    expected = [("2001668", "6374")]
    assert expected == [(r["mdtrt_id"], d["rx_id"]) for r in result for d in r["judge_result_detail_dtos"]]


def test_curr_mdtrt_id_not_found_is_refused() -> None:
    """A curr_mdtrt_id that matches no encounter is refused, naming curr_mdtrt_id."""
    err = _error(_two_encounters("9999"))
    expected = ("input.data.patient_dtos[0].curr_mdtrt_id", "'9999' matches no fsi_encounter_dtos[].mdtrt_id")
    assert expected == (
        err.field,
        err.message,
    )


def test_curr_mdtrt_id_absent_with_several_encounters_is_refused() -> None:
    """Without curr_mdtrt_id the only encounter is checked; with several it is required."""
    single = male_iud_3101()
    del _patient(single)["curr_mdtrt_id"]
    expected = "2001668"
    assert expected == _only(nhsa_json.decode(single)).request.encounter.mdtrt_id
    expected = "input.data.patient_dtos[0].curr_mdtrt_id"
    assert expected == _error(_two_encounters("")).field


def test_each_patient_gives_one_request(service: CheckService) -> None:
    """Two patient_dtos give two requests; the response carries each alert with its own patn_id."""
    doc = male_iud_3101()
    _data(doc)["patient_dtos"].append(_patient(compliant_3101()))
    _data(doc)["patient_dtos"].append(_patient(male_iud_3101()) | {"patn_id": "1058999"})
    expected = 3
    assert expected == len(nhsa_json.decode(doc))
    result = _respond(doc, service)["output"]["result"]
    expected = ["1058158", "1058999"]
    assert expected == [r["patn_id"] for r in result]


# --- refusals and national error paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "node", "field"),
    [
        ("data", "fsi_order_dtos", "input.data.fsi_order_dtos"),
        ("data", "fsi_encounter_dtos", "input.data.fsi_encounter_dtos"),
        ("data", "fsi_diagnose_dtos", "input.data.fsi_diagnose_dtos"),
        ("patient", "fsi_order_dtos", "input.data.patient_dtos[0].fsi_order_dtos"),
        ("patient", "fsi_operation_dtos", "input.data.patient_dtos[0].fsi_operation_dtos"),
        ("input", "patient_dtos", "input.patient_dtos"),
    ],
)
def test_flattened_layout_is_refused_with_a_nesting_message(where: str, node: str, field: str) -> None:
    """Node lists at the wrong level are refused, naming the node and saying it must be nested."""
    doc = male_iud_3101()
    if where == "data":
        _data(doc)[node] = _encounter(doc)["fsi_order_dtos"]
    elif where == "patient":
        _patient(doc)[node] = _encounter(doc)["fsi_order_dtos"]
    else:
        doc["input"] = {node: _data(doc)["patient_dtos"]}
    err = _error(doc)
    assert (field, True, True) == (
        err.field,
        "flattened layout" in err.message,
        "must be nested" in err.message,
    )


def test_fully_flattened_request_is_refused() -> None:
    """The anti-pattern of one table per node (all lists side by side under data) is refused whole."""
    doc = male_iud_3101()
    patient = _patient(doc)
    encounter = patient.pop("fsi_encounter_dtos")[0]
    _data(doc).update(
        {
            "patient_dtos": [patient],
            "fsi_encounter_dtos": [encounter],
            "fsi_order_dtos": encounter.pop("fsi_order_dtos"),
            "fsi_diagnose_dtos": encounter.pop("fsi_diagnose_dtos"),
        }
    )
    err = _error(doc)
    expected = (
        "input.data.fsi_encounter_dtos",
        "flattened layout: fsi_encounter_dtos must be nested as "
        "input.data.patient_dtos[].fsi_encounter_dtos[] "
        "(the spec prints each node as its own table, but the JSON nests them)",
    )
    assert expected == (err.field, err.message)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00\xff garbage", "not JSON (Expecting value at line 1 column 1)"),
        ("[1, 2]", "the request must be a JSON object"),
        ('"3101"', "the request must be a JSON object"),
        ("[" * 100_000, "not usable JSON (RecursionError)"),
    ],
)
def test_not_json_or_not_an_object_is_refused(raw: bytes | str, message: str) -> None:
    """Bytes that are not JSON, or JSON that is not an object, are refused with no field."""
    err = _error(raw)
    assert ("", message) == (err.field, err.message)


def test_missing_or_empty_patient_dtos_is_refused() -> None:
    """No patient_dtos (or an empty list) is refused, naming input.data.patient_dtos."""
    doc = male_iud_3101()
    del _data(doc)["patient_dtos"]
    empty = male_iud_3101()
    _data(empty)["patient_dtos"] = []
    expected = [
        ("input.data.patient_dtos", "is required (参保人信息, the list of patients)"),
        ("input.data.patient_dtos", "is required (at least one patient)"),
    ]
    assert expected == [(e.field, e.message) for e in (_error(doc), _error(empty))]


def test_other_transactions_and_camel_case_are_refused() -> None:
    """infno 3103 and the Hainan camelCase layout are refused, naming infno / patientDtos."""
    feedback = male_iud_3101()
    feedback["infno"] = "3103"
    hainan = male_iud_3101()
    _data(hainan)["patientDtos"] = _data(hainan).pop("patient_dtos")
    expected = ["infno", "input.data.patientDtos"]
    assert expected == [_error(feedback).field, _error(hainan).field]


def _mutated(path: str, value: Any) -> dict[str, Any]:
    """male_iud_3101 with one field set (value None deletes it); path like 'patient.gend' or 'order.1.cnt'."""
    doc = male_iud_3101()
    kind, _, rest = path.partition(".")
    if kind == "patient":
        target, key = _patient(doc), rest
    elif kind == "encounter":
        target, key = _encounter(doc), rest
    else:
        index, _, key = rest.partition(".")
        target = _encounter(doc)[{"order": "fsi_order_dtos", "diag": "fsi_diagnose_dtos"}[kind]][int(index)]
    if value is None:
        del target[key]
    else:
        target[key] = value
    return doc


P = "input.data.patient_dtos[0]"
E = f"{P}.fsi_encounter_dtos[0]"


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("patient.gend", None, f"{P}.gend", "is required"),
        ("patient.gend", "男", f"{P}.gend", "must be 0 未知, 1 男, 2 女 or 9 未说明"),
        ("patient.brdy", "2024-13-45", f"{P}.brdy", f"not a date: '2024-13-45' {DATE_HINT}"),
        ("patient.patn_id", "", f"{P}.patn_id", "is required"),
        ("encounter.mdtrt_id", None, f"{P}.curr_mdtrt_id",
         "'2001668' matches no fsi_encounter_dtos[].mdtrt_id"),
        ("order.1.cnt", "abc", f"{E}.fsi_order_dtos[1].cnt", "not a number: 'abc'"),
        ("order.2.rx_id", None, f"{E}.fsi_order_dtos[2].rx_id", "is required"),
        ("order.0.drord_begn_date", "14/06/2025", f"{E}.fsi_order_dtos[0].drord_begn_date",
         f"not a date: '14/06/2025' {DATE_HINT}"),
        ("diag.3.dise_codg", None, f"{E}.fsi_diagnose_dtos[3].dise_codg", "is required"),
        ("encounter.fsi_order_dtos", "6374", f"{E}.fsi_order_dtos", "must be a JSON list"),
        ("encounter.fsi_order_dtos", [iud_order(), "6375"], f"{E}.fsi_order_dtos[1]",
         "must be a JSON object"),
    ],
)  # fmt: skip
def test_errors_name_the_national_field_path(path: str, value: Any, field: str, message: str) -> None:
    """A bad or missing field is refused with its national path (input.data.patient_dtos[0]...)."""
    err = _error(_mutated(path, value))
    assert (field, message) == (err.field, err.message)


def test_errors_in_history_name_that_encounter() -> None:
    """A bad line in an earlier encounter is reported at that encounter's own index in fsi_encounter_dtos."""
    doc = _two_encounters("2001668")
    _patient(doc)["fsi_encounter_dtos"][1]["fsi_order_dtos"][0]["cnt"] = "x"
    expected = f"{P}.fsi_encounter_dtos[1].fsi_order_dtos[0].cnt"
    assert expected == _error(doc).field


def test_data_level_errors_name_input_data() -> None:
    """A bad data-level field (trig_scen) is named under input.data."""
    doc = male_iud_3101()
    _data(doc)["trig_scen"] = "99"
    err = _error(doc)
    expected = ("input.data.trig_scen", "must be 1–10 (national trig_scen dictionary)")
    assert expected == (err.field, err.message)


# --- encode details --------------------------------------------------------------------------------------


def test_warn_msg_names_encounters_without_a_current_line(service: CheckService) -> None:
    """When every line is historical (curr_drord_flag 0), nothing is checked and warn_msg says so."""
    doc = male_iud_3101()
    _encounter(doc)["fsi_order_dtos"][0]["curr_drord_flag"] = 0
    response = _respond(doc, service)
    expected = ([], "no current order line (curr_drord_flag 1) to check in mdtrt_id 2001668")
    assert expected == (response["output"]["result"], response["warn_msg"])


def test_encode_refuses_mismatched_input(service: CheckService) -> None:
    """encode needs one outcome per request and a 3101/3102 infno."""
    requests = nhsa_json.decode(male_iud_3101())
    outcomes = [service.check(r) for r in requests]
    with pytest.raises(ValueError, match="one outcome per request"):
        nhsa_json.encode(outcomes, requests * 2, "3101", refmsg_time=RECEIVED)
    with pytest.raises(ValueError, match="3101 or 3102"):
        nhsa_json.encode(outcomes, requests, "3103", refmsg_time=RECEIVED)


def test_3102_and_explicit_refmsgid_are_answered_alike(service: CheckService) -> None:
    """A 3102 (事中) request gets the same answer shape; an explicit inf_refmsgid is used as given."""
    doc = male_iud_3101()
    doc["infno"] = "3102"
    requests = nhsa_json.decode(doc)
    response = nhsa_json.encode(
        [service.check(r) for r in requests], requests, "3102", refmsg_time=RECEIVED, inf_refmsgid="M" * 30
    )
    expected = ("M" * 30, "20250614142724123", 1)
    assert expected == (
        response["inf_refmsgid"],
        response["respond_time"],
        len(response["output"]["result"]),
    )


def test_encode_error_names_the_field() -> None:
    """encode_error gives infcode -1, err_msg "field: message" and an empty output."""
    err = _error(_mutated("patient.gend", None))
    expected = {
        "infcode": -1,
        "inf_refmsgid": "",
        "refmsg_time": "20250614142724123",
        "respond_time": "20250614142724301",
        "enctype": "",
        "signtype": "",
        "cainfo": "",
        "err_msg": "input.data.patient_dtos[0].gend: is required",
        "warn_msg": "",
        "output": {},
    }
    assert expected == nhsa_json.encode_error(err, refmsg_time=RECEIVED, respond_time=RESPONDED)


def test_encode_error_without_field_or_times() -> None:
    """An error without a field (no KB) gives just its message; absent times are empty strings."""
    response = nhsa_json.encode_error(KbUnavailable("no knowledge base loaded"))
    expected = (-1, "no knowledge base loaded", "", "")
    assert expected == (
        response["infcode"],
        response["err_msg"],
        response["refmsg_time"],
        response["respond_time"],
    )


def test_envelope_inf_time_is_the_date_of_service() -> None:
    """The envelope's 交易时间 (inf_time) becomes the request's date of service."""
    doc = male_iud_3101()
    doc["inf_time"] = "2026-03-01 10:15:00"
    expected = [date(2026, 3, 1)]
    assert expected == [parsed.service_date for parsed in nhsa_json.decode(doc)]


def test_bare_data_has_no_date_of_service() -> None:
    """Without an envelope there is no inf_time: the service picks the date (latest order date, else today)."""
    doc = male_iud_3101()["input"]
    assert [None] == [parsed.service_date for parsed in nhsa_json.decode(doc)]


def test_bad_inf_time_is_refused_naming_it() -> None:
    """A malformed inf_time is a field error naming inf_time."""
    doc = male_iud_3101()
    doc["inf_time"] = "2026-13-45 10:00:00"
    with pytest.raises(InvalidField) as err:
        nhsa_json.decode(doc)
    assert "inf_time" == err.value.field


@pytest.mark.parametrize(
    ("given", "codes"),
    [
        ({"drugtracinfo": [{"drug_trac_codg": "83857930000879766660"}, {"drug_trac_codg": "83857930000879766661"}]},
         ("83857930000879766660", "83857930000879766661")),
        ({"drug_trac_codg": ["83857930000879766660"]}, ("83857930000879766660",)),
        ({"drug_trac_codg": "83857930000879766660, 83857930000879766661"},
         ("83857930000879766660", "83857930000879766661")),
        ({}, ()),
    ],
)  # fmt: skip
def test_trace_codes_decode_from_the_3505_and_plain_shapes(given: dict[str, Any], codes: tuple[str, ...]) -> None:
    """A line's trace codes come as 3505's drugtracinfo[], a list, or a scanner's comma-separated string;
    trdn_flag "1" marks 拆零."""
    doc = male_iud_3101()
    line = _encounter(doc)["fsi_order_dtos"][0]
    line.update(given, trdn_flag="1")
    (decoded,) = _only(nhsa_json.decode(doc)).request.encounter.orders[:1]
    assert (codes, True) == (decoded.drug_trac_codg, decoded.trdn_flag)


def test_a_trace_code_that_is_not_text_is_refused_naming_the_field() -> None:
    doc = male_iud_3101()
    _encounter(doc)["fsi_order_dtos"][0]["drugtracinfo"] = [{"drug_trac_codg": {"nested": 1}}]
    err = _error(doc)
    assert (True, True) == (err.field.endswith("fsi_order_dtos[0].drugtracinfo"),
                            err.message.startswith("item 0 must be a trace code"))  # fmt: skip
