"""HL7 v2 adapter: RDE^O11 / OMP^O09 / DFT^P03 decode to the domain request, ACKs carry alerts or the error.

Golden ACKs run on the tiny KB of tests.samples (the IUD is for women) with a fixed judgement id; every ACK the
tests read is parsed back with python-hl7. The fuzz test feeds 10,000 malformed messages through the adapter path.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import hl7
import pytest
from hypothesis import HealthCheck, given, settings

from fundguard.adapters.his import hl7v2
from fundguard.agent.engine import build_index
from fundguard.agent.engine.errors import FundguardError, InvalidField, KbUnavailable
from fundguard.agent.engine.model import Alert, CheckResult, WorkflowImpact
from fundguard.agent.kb import KbStore
from fundguard.agent.service import CheckOutcome, CheckService
from tests.hl7_samples import (
    IUD_GIVE,
    adt_a01,
    broken_rde,
    dft_p03,
    malformed_messages,
    omp_o09,
    rde_o11,
    segment,
)
from tests.samples import IUD_CODE, IUD_KP_ID, SEX_DRUG_RULE_ID, VITAMIN_C, tiny_bundle

NOW = datetime(2025, 6, 14, 14, 27, 25)
JUDGEMENT = "0123456789abcdef0123456789abcdef"
HINT = " (expected YYYYMMDD[HHMM[SS]])"
IUD_FOR_MALE_TEXT = "【左炔诺孕酮宫内节育系统】限女性使用，参保人性别为男性（药品区分性别使用）。"
MSH_ACK = "MSH|^~\\&|FUNDGUARD|CDSDERMYY|HIS|CDSDERMYY|20250614142725||ACK^{}^ACK|ACK0001|P|2.5||||||UNICODE UTF-8"


@pytest.fixture(scope="module")
def service() -> CheckService:
    """A check service on the tiny KB with a fixed clock and judgement id."""
    store = KbStore()
    store.activate(build_index(tiny_bundle()), "tests.samples")
    return CheckService(store, clock=lambda: datetime(2025, 6, 14, 15, 0), new_id=lambda: JUDGEMENT)


def answer(raw: bytes | str, service: CheckService) -> str:
    """The adapter path a listener runs: load → decode → check → encode_ack, or encode_error."""
    text: str | None = None
    try:
        text = hl7v2.load(raw.encode("utf-8") if isinstance(raw, str) else raw)
        return hl7v2.encode_ack(service.check(hl7v2.decode(text)), text, control_id="ACK0001", now=NOW)
    except FundguardError as exc:
        return hl7v2.encode_error(exc, text, control_id="ACK0001", now=NOW)


def error(message: str) -> InvalidField:
    """The InvalidField decode raises for `message`."""
    with pytest.raises(InvalidField) as caught:
        hl7v2.decode(message)
    return caught.value


def replaced(message: str, where: str, value: str) -> str:
    """`message` with one field set: `where` like 'PID-8' or 'RXE[2]-10' (the n-th such segment)."""
    match = re.fullmatch(r"([A-Z0-9]{3})(?:\[(\d+)\])?-(\d+)", where)
    assert match is not None
    name, nth, field = match[1], int(match[2] or 1), int(match[3])
    segments = message.rstrip("\r").split("\r")
    index = [n for n, s in enumerate(segments) if s.startswith(name)][nth - 1]
    fields = segments[index].split("|")
    position = field if name != "MSH" else field - 1
    fields += [""] * (position + 1 - len(fields))
    fields[position] = value
    segments[index] = "|".join(fields)
    return "\r".join(segments) + "\r"


def without(message: str, name: str) -> str:
    """`message` without its `name` segments."""
    return "".join(f"{s}\r" for s in message.rstrip("\r").split("\r") if not s.startswith(name))


def ack_fields(ack: str, name: str) -> list[list[str]]:
    """Each `name` segment of an ACK as its unescaped field texts (index n = field n)."""
    message = hl7.parse(ack)
    return [[message.unescape(str(f)) for f in s] for s in message if str(s[0]) == name]


# --- decoding --------------------------------------------------------------------------------------------------


def test_rde_o11_decodes_to_the_domain_request() -> None:
    """PID, PV1, DG1 and the ORC/TQ1/RXE/FT1 groups of an RDE^O11 become the domain request."""
    parsed = hl7v2.decode(rde_o11())
    request = parsed.request
    expected: Any = ("1058158", "1", date(1951, 8, 27), date(2025, 6, 14), "RDE20250614000001", "zh-CN")
    assert expected == (request.patient.patn_id, request.patient.gend, request.patient.brdy, parsed.service_date,
                        request.task_id, request.locale)  # fmt: skip
    enc = request.encounter
    expected = ("2001668", "21", date(2025, 5, 4), None, "ys01")
    assert expected == (enc.mdtrt_id, enc.med_type, enc.adm_date, enc.dscg_date, enc.dr_codg)
    expected = [("M10.900", "痛风", False, date(2025, 5, 7)), ("XYZD018987", "痛风性关节炎", True, date(2025, 5, 7))]
    assert expected == [(d.dise_codg, d.dise_name, d.maindise_flag, d.dise_date) for d in enc.diagnoses]
    expected = [
        ("6374", IUD_CODE, "", "左炔诺孕酮宫内节育系统", Decimal(1), Decimal("1153.00"), Decimal("1153.00"),
         date(2025, 6, 14), None, "ys01", "IP202506140000022", True),
        ("6375", VITAMIN_C, "", "维生素C片", Decimal(3), Decimal("0.08"), Decimal("0.24"), date(2025, 6, 13),
         date(2025, 6, 20), "ys01", "IP202506140000022", True),
    ]  # fmt: skip
    assert expected == [(o.rx_id, o.hilist_code, o.hosplist_code, o.hilist_name, o.cnt, o.pric, o.sumamt,
                         o.begn_date, o.stop_date, o.drord_dr_codg, o.rxno, o.current) for o in enc.orders]  # fmt: skip


def test_omp_o09_reads_the_requested_give_code_and_dispense_amount() -> None:
    """OMP^O09: RXO-1 is the code, RXO-11 the count, ORC-15 the start date."""
    orders = hl7v2.decode(omp_o09()).request.encounter.orders
    expected = [("6374", IUD_CODE, Decimal(1), date(2025, 6, 14), "OP202506140000031")]
    assert expected == [(o.rx_id, o.hilist_code, o.cnt, o.begn_date, o.rxno) for o in orders]


def test_dft_p03_reads_charges_skips_payments_and_negates_credits() -> None:
    """DFT^P03: one line per FT1 charge; the PY line is skipped, the CD credit becomes a refund line."""
    orders = hl7v2.decode(dft_p03()).request.encounter.orders
    expected = [
        ("T6374", IUD_CODE, Decimal(1), Decimal("1153.00"), Decimal("1153.00"), date(2025, 6, 14), "ys01"),
        ("T6376", VITAMIN_C, Decimal(-2), Decimal("0.08"), Decimal("-0.16"), date(2025, 6, 14), "ys01"),
    ]
    assert expected == [(o.rx_id, o.hilist_code, o.cnt, o.pric, o.sumamt, o.begn_date, o.drord_dr_codg)
                        for o in orders]  # fmt: skip


@pytest.mark.parametrize(
    ("give", "codes"),
    [
        (IUD_GIVE, (IUD_CODE, "")),
        (f"{IUD_CODE}^左炔诺孕酮宫内节育系统^hilist", (IUD_CODE, "")),
        ("H0279543^左炔诺孕酮宫内节育系统^HOSP", ("", "H0279543")),
        ("H0279543^左炔诺孕酮宫内节育系统", ("", "H0279543")),
        (f"H0279543^左炔诺孕酮宫内节育系统^HOSP^{IUD_CODE}^^NHSA", (IUD_CODE, "H0279543")),
    ],
)
def test_give_code_goes_to_hilist_or_hosplist_by_coding_system(give: str, codes: tuple[str, str]) -> None:
    """A code in NHSA/HILIST (component 3, or 6 for the alternate) is national; any other is the hospital's."""
    line = hl7v2.decode(rde_o11(give=give, vitamin=False)).request.encounter.orders[0]
    assert codes == (line.hilist_code, line.hosplist_code)


@pytest.mark.parametrize(("sex", "gend"), [("M", "1"), ("F", "2"), ("U", "0"), ("O", "9"), ("a", "9"), ("2", "2")])
def test_administrative_sex_maps_to_the_national_gender(sex: str, gend: str) -> None:
    """PID-8 M/F/U/O (HL7 table 0001, any case) → 1/2/0/9; A and N → 9; national codes pass."""
    assert gend == hl7v2.decode(rde_o11(sex=sex)).request.patient.gend


@pytest.mark.parametrize(("patient_class", "med_type"), [("I", "21"), ("O", "11"), ("E", "13"), ("P", "")])
def test_patient_class_maps_to_med_type(patient_class: str, med_type: str) -> None:
    """PV1-2 I/O/E → med_type 21 住院 / 11 普通门诊 / 13 急诊; other classes leave it empty."""
    message = replaced(rde_o11(), "PV1-2", patient_class)
    assert med_type == hl7v2.decode(message).request.encounter.med_type


def test_tolerated_variants_decode_alike() -> None:
    """LF or CRLF segment ends, a BOM, no PV1-19 (PID-18 is the visit) and no DG1-15 (the first DG1 is main)."""
    base = hl7v2.decode(rde_o11()).request
    variants = [rde_o11().replace("\r", "\n"), rde_o11().replace("\r", "\r\n"), "\ufeff" + rde_o11()]
    expected = [(base.patient, base.encounter.orders)] * 3
    assert expected == [(r.patient, r.encounter.orders) for r in (hl7v2.decode(v).request for v in variants)]
    no_visit = hl7v2.decode(replaced(replaced(rde_o11(), "PV1-19", ""), "DG1[2]-15", "")).request.encounter
    expected_visit = ("A2001668", [True, False])
    assert expected_visit == (no_visit.mdtrt_id, [d.maindise_flag for d in no_visit.diagnoses])


def test_escape_sequences_are_unescaped_and_unknown_ones_dropped() -> None:
    """\\T\\ \\S\\ \\F\\ become & ^ |, hex is decoded, unknown sequences (\\Z..\\, \\H\\) vanish."""
    give = f"{IUD_CODE}^A\\T\\B\\S\\C\\F\\D\\X41\\\\Zfoo\\\\H\\E\\.brx\\^NHSA"
    line = hl7v2.decode(rde_o11(give=give, vitamin=False)).request.encounter.orders[0]
    assert "A&B^C|DAE" == line.hilist_name


def test_cancelled_orders_are_context_only() -> None:
    """ORC-1 CA/DC marks the order not current: it is context for other rules and never alerted itself."""
    message = replaced(rde_o11(), "ORC[1]-1", "DC")
    expected = [False, True]
    assert expected == [o.current for o in hl7v2.decode(message).request.encounter.orders]


def test_msh19_english_gives_english_texts(service: CheckService) -> None:
    """MSH-19 `en` asks for English alert texts."""
    ack = answer(replaced(rde_o11(vitamin=False), "MSH-19", "en^English^ISO639"), service)
    expected = "[左炔诺孕酮宫内节育系统] is for female patients only; the patient is male (药品区分性别使用)."
    assert expected == ack_fields(ack, "NTE")[0][3]


# --- ACKs --------------------------------------------------------------------------------------------------------


def test_male_iud_rde_gets_aa_with_one_err_and_nte_per_alert(service: CheckService) -> None:
    """The male patient's IUD order answers AA; ERR carries rule, jr_id, kp_id, severity, amount, rx_id; NTE the
    text."""
    expected = "\r".join([
        MSH_ACK.format("O11"),
        "MSA|AA|RDE20250614000001|1 alert; KB 7",
        f"ERR|||0^Message accepted^HL70357|W|{SEX_DRUG_RULE_ID}^药品区分性别使用^FUNDGUARD|"
        f"{JUDGEMENT}-001~{IUD_KP_ID}~2~reason-required~1153.00~6374|避孕，3 年有效。|{IUD_FOR_MALE_TEXT}",
        f"NTE|1|L|{IUD_FOR_MALE_TEXT}",
        "",
    ])  # fmt: skip
    assert expected == answer(rde_o11(), service)


def test_compliant_order_gets_aa_without_err(service: CheckService) -> None:
    """A woman's IUD order complies: AA with no ERR or NTE segment."""
    ack = answer(rde_o11(sex="F"), service)
    expected = ("0 alerts; KB 7", [], [])
    assert expected == (ack_fields(ack, "MSA")[0][3], ack_fields(ack, "ERR"), ack_fields(ack, "NTE"))


def test_omp_and_dft_answer_with_their_trigger(service: CheckService) -> None:
    """OMP^O09 and DFT^P03 are answered ACK^O09 / ACK^P03 with the sex alert on their line."""
    acks = [answer(omp_o09(), service), answer(dft_p03(), service)]
    expected = [("ACK^O09^ACK", "AA", "6374"), ("ACK^P03^ACK", "AA", "T6374")]
    assert expected == [(str(hl7.parse(a).segment("MSH")[9]), ack_fields(a, "MSA")[0][1],
                         ack_fields(a, "ERR")[0][6].split("~")[-1]) for a in acks]  # fmt: skip


def test_alert_texts_are_escaped_and_read_back_unchanged() -> None:
    """Delimiters, the escape character and line breaks in alert texts are escaped; Chinese is sent as is."""
    text = "剂量|超限^请核对~A&B\\C\n第二行\x07"
    alert = Alert("J-1", "R-1", "规则^名", "类", "KP-1", text, "3", WorkflowImpact.INFO, Decimal("1.5"), ("6374",), ())
    outcome = CheckOutcome(CheckResult(JUDGEMENT, "7", date(2025, 6, 14), (alert,)), 10)
    ack = hl7v2.encode_ack(outcome, rde_o11(), control_id="ACK0001", now=NOW)
    err, nte = ack_fields(ack, "ERR")[0], ack_fields(ack, "NTE")[0]
    expected = ("I", "J-1~KP-1~3~info~1.50~6374", "剂量|超限^请核对~A&B\\C\r第二行", "剂量|超限^请核对~A&B\\C\r第二行")
    assert expected == (err[4], err[6], err[8], nte[3])
    assert "R-1" == str(hl7.parse(ack).segment("ERR")[5][0][0])


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (broken_rde(), [MSH_ACK.format("O11"),
                        "MSA|AE|RDE20250614000002|PID-8: 'X' is not M, F, U or O (HL7 table 0001)",
                        "ERR||PID^1^8|102^Data type error^HL70357|E|invalid_field^^FUNDGUARD|||"
                        "PID-8: 'X' is not M, F, U or O (HL7 table 0001)", ""]),
        (replaced(replaced(rde_o11(), "RXE[2]-10", ""), "RXE[2]-3", ""), [MSH_ACK.format("O11"),
                        "MSA|AE|RDE20250614000001|RXE[2]-10: is required (a decimal number)",
                        "ERR||RXE^2^10|101^Required field missing^HL70357|E|invalid_field^^FUNDGUARD|||"
                        "RXE[2]-10: is required (a decimal number)", ""]),
        (adt_a01(), [MSH_ACK.format("A01"),
                     "MSA|AR|ADT20250614000001|MSH-9: message type ADT\\S\\A01 is not handled "
                     "(RDE\\S\\O11, OMP\\S\\O09, DFT\\S\\P03 are)",
                     "ERR||MSH^1^9|200^Unsupported message type^HL70357|E|rejected^^FUNDGUARD|||MSH-9: message "
                     "type ADT\\S\\A01 is not handled (RDE\\S\\O11, OMP\\S\\O09, DFT\\S\\P03 are)", ""]),
        ("\x00garbage", ["MSH|^~\\&|FUNDGUARD||||20250614142725||ACK^^ACK|ACK0001|P|2.5||||||UNICODE UTF-8",
                         "MSA|AR||MSH: not an HL7 v2 message (it must start with MSH)",
                         "ERR||MSH^1|100^Segment sequence error^HL70357|E|rejected^^FUNDGUARD|||"
                         "MSH: not an HL7 v2 message (it must start with MSH)", ""]),
    ],
)  # fmt: skip
def test_errors_are_answered_ae_or_ar_naming_the_location(
    message: str, expected: list[str], service: CheckService
) -> None:
    """Bad content is AE, an unsupported or unreadable message AR; MSA-3, ERR-2 (ERL) and ERR-8 name the place."""
    assert "\r".join(expected) == answer(message, service)


def test_errors_without_a_field_are_application_errors() -> None:
    """An error naming no field (no KB loaded) is AE with HL7 code 207 and no ERR-2; the request's MSH is echoed."""
    ack = hl7v2.encode_error(KbUnavailable("no knowledge base loaded"), rde_o11(), control_id="A2", now=NOW)
    err = ack_fields(ack, "ERR")[0]
    expected = ("AE", "RDE20250614000001", "", "207^Application internal error^HL70357", "kb_unavailable^^FUNDGUARD")
    assert expected == (ack_fields(ack, "MSA")[0][1], ack_fields(ack, "MSA")[0][2], err[2], err[3], err[5])


def test_custom_delimiters_are_answered_in_kind(service: CheckService) -> None:
    """A message using # as field separator and !@$% as encoding characters gets its ACK in the same delimiters."""
    custom = rde_o11().replace("|", "#").replace("^", "!").replace("~", "@").replace("\\&", "$%")
    ack = answer(custom, service)
    expected = ("MSH#!@$%#FUNDGUARD#", "MSA#AA#RDE20250614000001#1 alert; KB 7")
    assert expected == (ack[:19], ack.split("\r")[1])


# --- errors name HL7 locations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "field", "problem"),
    [
        (replaced(rde_o11(), "PID-8", ""), "PID-8", "is required (M, F, U or O)"),
        (replaced(rde_o11(), "PID-7", "19511327"), "PID-7", f"not an HL7 date/time: '19511327'{HINT}"),
        (replaced(rde_o11(), "PID-7", ""), "PID-7", "is required (date of birth, YYYYMMDD)"),
        (replaced(rde_o11(), "PID-3", ""), "PID-3", "is required"),
        (replaced(replaced(rde_o11(), "PV1-19", ""), "PID-18", ""), "PV1-19",
         "is required (the visit number; else PID-18, the account number)"),
        (replaced(rde_o11(), "PV1-44", "2025"), "PV1-44", f"not an HL7 date/time: '2025'{HINT}"),
        (replaced(rde_o11(), "DG1[2]-3", ""), "DG1[2]-3", "is required"),
        (replaced(rde_o11(), "RXE[2]-10", "abc"), "RXE[2]-10", "not a number: 'abc'"),
        (replaced(rde_o11(), "RXE[1]-2", ""), "RXE[1]-2", "is required (the item's code)"),
        (replaced(rde_o11(), "FT1[1]-12", "1,153"), "FT1[1]-12", "not a number: '1,153'"),
        (replaced(rde_o11(), "ORC[1]-2", ""), "ORC[1]-2", "is required"),
        (replaced(rde_o11(), "TQ1[1]-7", "20251301"), "TQ1[1]-7", f"not an HL7 date/time: '20251301'{HINT}"),
        (replaced(omp_o09(), "RXO[1]-11", "x"), "RXO[1]-11", "not a number: 'x'"),
        (replaced(dft_p03(), "FT1[3]-10", "--2"), "FT1[3]-10", "not a number: '--2'"),
        (replaced(replaced(dft_p03(), "FT1[1]-2", ""), "FT1[1]-1", ""), "FT1[1]-2", "is required"),
        (replaced(rde_o11(), "MSH-10", ""), "MSH-10", "is required (message control ID)"),
        (replaced(rde_o11(), "MSH-7", "yesterday"), "MSH-7", f"not an HL7 date/time: 'yesterday'{HINT}"),
        (without(rde_o11(), "PID"), "PID", "is required (the patient)"),
        (without(rde_o11(), "ORC"), "TQ1[1]", "comes before any ORC (each order starts with ORC)"),
        (without(without(without(rde_o11(), "ORC"), "RXE"), "TQ1").replace("FT1", "ZFT"), "ORC",
         "is required (at least one order: ORC + RXE)"),
        (without(rde_o11(), "RXE"), "ORC[1]", "has no RXE (each order is ORC + RXE)"),
        (without(dft_p03(), "FT1"), "FT1", "is required (at least one charge line)"),
        (rde_o11() + segment("PID", {3: "X"}), "PID[2]",
         "more than one PID segment (one patient and visit per message)"),
        (rde_o11() + "pid|x\r", "segment 13", "not an HL7 segment: 'pid|x'"),
    ],
)  # fmt: skip
def test_content_errors_name_the_hl7_location(message: str, field: str, problem: str) -> None:
    """Each bad or missing value is refused (AE) naming its segment (with occurrence) and field."""
    err = error(message)
    assert (False, field, problem) == (isinstance(err, hl7v2.Rejected), err.field, err.message)


@pytest.mark.parametrize(
    ("message", "field", "hl7_code"),
    [
        (adt_a01(), "MSH-9", "200"),
        (replaced(rde_o11(), "MSH-9", ""), "MSH-9", "200"),
        (replaced(rde_o11(), "MSH-12", "3.0"), "MSH-12", "203"),
        ("", "MSH", "100"),
        ("PID|1||X\r", "MSH", "100"),
        ("BHS|^~\\&|HIS\r" + rde_o11(), "MSH", "100"),
        (rde_o11().replace("^~\\&", "^~", 1), "MSH-2", "102"),
        (rde_o11().replace("^~\\&", "^^\\&", 1), "MSH-2", "102"),
        ("MSH", "MSH-2", "102"),
        (rde_o11() + omp_o09(), "segment 13", "100"),
    ],
)
def test_unprocessable_messages_are_rejected(message: str, field: str, hl7_code: str) -> None:
    """Not HL7, bad delimiters, batches, unsupported type or version: Rejected (AR) naming MSH-n."""
    err = error(message)
    assert (True, field, hl7_code) == (isinstance(err, hl7v2.Rejected), err.field, err.hl7_code)


# --- character sets ----------------------------------------------------------------------------------------------


def test_gb18030_messages_are_read_and_answered_in_gb18030(service: CheckService) -> None:
    """MSH-18 GB 18030-2000: the bytes are read as GB18030 and the ACK is declared and encoded so."""
    raw = rde_o11().replace("UNICODE UTF-8", "GB 18030-2000").encode("gb18030")
    text = hl7v2.load(raw)
    ack = hl7v2.encode_ack(service.check(hl7v2.decode(text)), text, control_id="A3", now=NOW)
    expected = ("gb18030", "左炔诺孕酮宫内节育系统", "GB 18030-2000", IUD_FOR_MALE_TEXT)
    actual = (
        hl7v2.charset(raw),
        hl7v2.decode(text).request.encounter.orders[0].hilist_name,
        ack_fields(ack, "MSH")[0][18],
        ack.encode("gb18030").decode("gb18030").split("|")[-1].rstrip("\r"),
    )
    assert expected == actual  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (rde_o11().replace("UNICODE UTF-8", "8859/1").encode("latin-1", errors="replace"),
         "character set '8859/1' is not handled (UNICODE UTF-8, GB 18030-2000 are)"),
        (rde_o11().encode("gb18030"), "not UNICODE UTF-8 text (byte 156); MSH-18 names the character set"),
    ],
)  # fmt: skip
def test_unreadable_character_sets_are_rejected_naming_msh18(raw: bytes, problem: str) -> None:
    """An unsupported MSH-18, or bytes that are not in the declared character set: Rejected naming MSH-18."""
    with pytest.raises(hl7v2.Rejected) as caught:
        hl7v2.load(raw)
    assert ("MSH-18", problem) == (caught.value.field, caught.value.message)


# --- fuzz --------------------------------------------------------------------------------------------------------


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(raw=malformed_messages())
def test_fuzz_every_malformed_message_gets_an_ack(raw: bytes, service: CheckService) -> None:
    """10,000 malformed messages: only fundguard errors escape decode, and each gets an ACK that python-hl7 parses,
    AA/AE/AR, encodable in the answer's character set and free of MLLP framing bytes."""
    ack = answer(raw, service)
    code = str(hl7.parse(ack).segment("MSA")[1])
    assert (True, False, False) == (code in ("AA", "AE", "AR"), "\x0b" in ack, "\x1c" in ack)
    ack.encode(hl7v2.charset(raw))
