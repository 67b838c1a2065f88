"""HL7 v2 sample messages (RDE^O11, OMP^O09, DFT^P03, broken and unsupported ones) and their malformed mutations.

The samples carry the IS encounter of tests.samples as a HIS would send it over MLLP (v2.5, UTF-8 with Chinese
names and texts): a 73-year-old man in 骨科 (visit 2001668) ordered the female-only IUD. Builders return fresh
text, segments separated by CR. `malformed_messages()` is the hypothesis strategy both HL7 fuzz tests share.
"""

from __future__ import annotations

from hypothesis import strategies as st

from .samples import IUD_CODE, VITAMIN_C

__all__ = [
    "IUD_GIVE",
    "LOCAL_IUD",
    "VITAMIN_GIVE",
    "adt_a01",
    "broken_rde",
    "dft_p03",
    "frames",
    "malformed_messages",
    "omp_o09",
    "rde_o11",
    "segment",
]

IUD_GIVE = f"{IUD_CODE}^左炔诺孕酮宫内节育系统^NHSA"
VITAMIN_GIVE = f"{VITAMIN_C}^维生素C片^NHSA"
LOCAL_IUD = "H0279543"  # the hospital's own code for the IUD (mapped to IUD_CODE by a code map)
DOCTOR = "ys01^李^医生"
VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def segment(name: str, fields: dict[int, str]) -> str:
    """One segment from {field number: value} (MSH numbering: MSH-3 is the first after the delimiters)."""
    last = max(fields, default=0)
    values = [fields.get(n, "") for n in range(1, last + 1)]
    if name == "MSH":
        return "MSH|^~\\&|" + "|".join(values[2:])
    return "|".join([name, *values])


def _msh(kind: str, control_id: str) -> str:
    structure = kind.replace("^", "_")
    return segment("MSH", {3: "HIS", 4: "CDSDERMYY", 5: "FUNDGUARD", 6: "CDSDERMYY", 7: "20250614142724",
                           9: f"{kind}^{structure}", 10: control_id, 11: "P", 12: "2.5", 15: "AL", 16: "AL",
                           17: "CHN", 18: "UNICODE UTF-8"})  # fmt: skip


def _patient(sex: str) -> list[str]:
    return [
        segment("PID", {1: "1", 3: "1058158^^^CDSDERMYY^PI", 5: "张^某某", 7: "19510827", 8: sex, 18: "A2001668"}),
        segment("PV1", {1: "1", 2: "I", 3: "0301^23^1^CDSDERMYY", 7: DOCTOR, 19: "2001668", 44: "20250504105945"}),
        segment("DG1", {1: "1", 3: "M10.900^痛风^ICD10", 5: "20250507172731", 6: "F", 15: "2"}),
        segment("DG1", {1: "2", 3: "XYZD018987^痛风性关节炎^LOCAL", 5: "20250507172731", 6: "F", 15: "1"}),
    ]


def _message(*segments: str) -> str:
    return "\r".join(segments) + "\r"


def rde_o11(
    sex: str = "M", give: str = IUD_GIVE, control_id: str = "RDE20250614000001", *, vitamin: bool = True
) -> str:
    """RDE^O11: order 6374 (`give`, 1 盒 × 1153.00) and, with `vitamin`, order 6375 (vitamin C, 3 盒 × 0.08); each
    order group is ORC [TQ1] RXE FT1 (the FT1 carries the price)."""
    orders = [
        segment("ORC", {1: "NW", 2: "6374", 4: "IP202506140000022", 9: "20250614142011", 12: DOCTOR}),
        segment("TQ1", {1: "1", 3: "ONCE", 7: "20250614142011"}),
        segment("RXE", {2: give, 3: "1", 5: "支", 10: "1", 11: "盒"}),
        segment("FT1", {1: "1", 6: "CG", 7: give, 10: "1", 11: "1153.00", 12: "1153.00"}),
    ]
    if vitamin:
        orders += [
            segment("ORC", {1: "NW", 2: "6375", 4: "IP202506140000022", 7: "^^^20250613090000^20250620",
                            12: DOCTOR}),
            segment("RXE", {2: VITAMIN_GIVE, 3: "0.1", 5: "g", 10: "3", 11: "盒"}),
            segment("FT1", {1: "2", 6: "CG", 7: VITAMIN_GIVE, 10: "3", 11: "0.24", 12: "0.08"}),
        ]  # fmt: skip
    return _message(_msh("RDE^O11", control_id), *_patient(sex), *orders)


def omp_o09(sex: str = "M", give: str = IUD_GIVE, control_id: str = "OMP20250614000001") -> str:
    """OMP^O09: one treatment order 6374 (RXO `give`, 1 盒 requested)."""
    return _message(
        _msh("OMP^O09", control_id),
        *_patient(sex),
        segment("ORC", {1: "NW", 2: "6374", 4: "OP202506140000031", 12: DOCTOR, 15: "20250614142011"}),
        segment("RXO", {1: give, 2: "1", 4: "支", 11: "1", 12: "盒"}),
    )


def dft_p03(sex: str = "M", code: str = IUD_GIVE, control_id: str = "DFT20250614000001") -> str:
    """DFT^P03: charge T6374 (`code`, 1 × 1153.00), a payment line (skipped) and a credit of vitamin C."""
    return _message(
        _msh("DFT^P03", control_id),
        segment("EVN", {1: "P03", 2: "20250614142724"}),
        *_patient(sex),
        segment("FT1", {1: "1", 2: "T6374", 4: "20250614142011", 6: "CG", 7: code, 10: "1", 11: "1153.00",
                        12: "1153.00", 13: "0301", 21: DOCTOR}),
        segment("FT1", {1: "2", 2: "P0001", 4: "20250614142011", 6: "PY", 7: "CASH^现金^LOCAL", 11: "500.00"}),
        segment("FT1", {1: "3", 2: "T6376", 4: "20250614142011", 6: "CD", 7: VITAMIN_GIVE, 10: "2", 11: "0.16",
                        12: "0.08", 21: DOCTOR}),
    )  # fmt: skip


def broken_rde() -> str:
    """An RDE^O11 whose PID-8 (administrative sex) is not an HL7 table 0001 value."""
    return rde_o11(sex="X", control_id="RDE20250614000002")


def adt_a01() -> str:
    """An admission (ADT^A01): a message type the agent does not handle."""
    return _message(_msh("ADT^A01", "ADT20250614000001"), *_patient("M"))


def frames(*messages: str) -> bytes:
    """The messages as MLLP frames (VT message FS CR), UTF-8."""
    return b"".join(VT + m.encode("utf-8") + FS + CR for m in messages)


# ---- malformed messages -------------------------------------------------------------------------------------

_CHARACTERS = list("|^~\\&\r\n\t 0123456789AZaz-.+#中医\x00\x0b\x1c\x7f\ufeff")  # delimiters, framing, controls
_NOISE = st.text(alphabet=st.sampled_from(_CHARACTERS), max_size=12)
_TEXT = _NOISE | st.text(max_size=12) | st.sampled_from(["", "MSH", "PID", "RXE", "20251345", "NaN", "1e99", "-1"])
_BASES = [rde_o11, omp_o09, dft_p03, broken_rde, adt_a01, lambda: rde_o11(give="LOCAL1^本院编码^HOSP")]
_OPERATIONS = ["drop", "duplicate", "field", "remove_field", "components", "delimiters", "insert", "truncate"]


def _mutate(draw: st.DrawFn, segments: list[str], operation: str) -> list[str]:
    """One mutation of the segment list (see `_OPERATIONS`)."""
    if not segments:
        return [draw(_TEXT)]
    # indexes start past the segment name and past MSH: hypothesis leans to small draws, which would mostly hit those
    i = (draw(st.integers(0, len(segments) - 1)) + 1) % len(segments)
    fields = segments[i].split("|")
    j = (draw(st.integers(0, len(fields) - 1)) + 1) % len(fields)
    if operation == "drop":
        del segments[i]
    elif operation == "duplicate":
        segments.insert(i, segments[i])
    elif operation in ("field", "components"):
        fields[j] = draw(_TEXT) if operation == "field" else "^".join(draw(st.lists(_TEXT, max_size=4)))
        segments[i] = "|".join(fields)
    elif operation == "remove_field":
        segments[i] = "|".join(fields[:j] + fields[j + 1 :])
    elif operation == "delimiters":
        segments[0] = segments[0][:3] + draw(st.text(max_size=6)) + segments[0][8:]
    else:
        text = "\r".join(segments)
        k = draw(st.integers(0, len(text)))
        text = text[:k] + draw(_TEXT) if operation == "insert" else text[:k]
        return text.split("\r")
    return segments


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    segments = draw(st.sampled_from(_BASES))().rstrip("\r").split("\r")
    for _ in range(draw(st.integers(1, 3))):
        segments = _mutate(draw, segments, draw(st.sampled_from(_OPERATIONS)))
    text = draw(st.sampled_from(["\r", "\n", "\r\n"])).join(segments)
    codec = draw(st.sampled_from(["utf-8", "utf-8", "gb18030", "mislabelled"]))
    if codec == "gb18030":
        text = text.replace("UNICODE UTF-8", "GB 18030-2000")
    raw = text.encode("utf-8" if codec == "utf-8" else "gb18030", errors="replace")
    return raw + draw(st.just(b"") | st.binary(max_size=4))


def malformed_messages() -> st.SearchStrategy[bytes]:
    """Message bytes derived from the valid samples (segments dropped, duplicated, fields and components garbled
    or removed, delimiters replaced, noise inserted, truncation; UTF-8, GB18030 or GB18030 labelled UTF-8), and
    raw random bytes."""
    return st.one_of(_mutated(), _mutated(), _mutated(), st.binary(max_size=300))
