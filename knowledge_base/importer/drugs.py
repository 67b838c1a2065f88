"""Derive the clinical drug limits: indications (药品限适应症) and second-line use (药品限二线使用).

- indication: `knowledge_base/importer/indication.py` maps the 限…适应症 text to ICD-10 (医保版) prefixes
  (`derive_indication(constraint, item_name) -> (prefixes, confirm)`); when it finds none, `confirm` is the
  condition the clinician must confirm (never empty: the constraint itself at worst).
- second_line: `evidence_atc` is the distinct ATC-like classes (`code[1:6]`) of the point's 23-character
  western drug codes (X…) — earlier use of another drug of the class counts as first-line evidence — plus the
  classes of the first-line treatments the constraint names (二甲双胍, 胰岛素, 含铂化疗, TNF抑制剂 …), from the
  reviewed table `data/first_line_atc.json`; `confirm` is the constraint cut to a short prompt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from ._source import SourcePoint
from ._types import Derivation
from .indication import derive_indication

__all__ = ["derive_indication_params", "derive_second_line", "short_prompt"]

DRUG_CODE_LEN = 23
ATC = slice(1, 6)
PROMPT_MAX = 120  # characters of a confirm prompt before it is cut at a clause boundary
CLAUSE_ENDS = "；;。"


def short_prompt(constraint: str, fallback: str) -> str:
    """The constraint as one line without the closing stop, cut after a clause when longer than PROMPT_MAX."""
    text = " ".join(constraint.split()).rstrip("。；;. ")
    if len(text) > PROMPT_MAX:
        cut = max(text.rfind(end, 0, PROMPT_MAX) for end in CLAUSE_ENDS)
        text = (text[:cut] if cut > 0 else text[:PROMPT_MAX]).rstrip("。；;, ") + "…"
    return text or fallback


def derive_indication_params(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"icd10": [...], "confirm": str | None}` via indication.derive_indication."""
    icd10, confirm = derive_indication(point.constraint, point.item_name)
    prefixes = sorted(dict.fromkeys(p.strip().upper() for p in icd10 if p.strip()))
    confirm = short_prompt(confirm, "符合药品限定支付适应症") if confirm and confirm.strip() else None
    if not prefixes and confirm is None:
        confirm = short_prompt(point.constraint, "符合药品限定支付适应症")
    return Derivation.of({"icd10": prefixes, "confirm": confirm})


@cache
def first_line_terms() -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """(term, ATC classes, required context word or "") from data/first_line_atc.json."""
    raw = json.loads(resources.files(__package__).joinpath("data", "first_line_atc.json").read_text("utf-8"))
    return tuple((t["term"], tuple(t["atc"]), t.get("only_with", "")) for t in raw["terms"])


def named_first_line(constraint: str) -> set[str]:
    """ATC classes of the first-line treatments a constraint names."""
    return {
        atc
        for term, classes, context in first_line_terms()
        if term in constraint and (not context or context in constraint)
        for atc in classes
    }


def derive_second_line(point: SourcePoint, _kb: Mapping[str, Any]) -> Derivation:
    """`{"evidence_atc": [...], "confirm": str}` from the point's X codes and its constraint."""
    own = {c[ATC].upper() for c in point.codes if len(c) == DRUG_CODE_LEN and c.startswith("X")}
    classes = sorted(own | named_first_line(point.constraint))
    confirm = short_prompt(point.constraint, "限二线用药")
    notes = () if classes else ("no western drug code: no ATC evidence, always a confirm prompt",)
    return Derivation.of({"evidence_atc": classes, "confirm": confirm}, *notes)
