"""Assemble a KB bundle (format v1, knowledge_base/README.md) from the source, families and override table.

Nothing here reads the clock or the environment: the same source and override table give the same bundle,
byte for byte (`created_at` is the newest publication date in the source).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._source import Source, SourcePoint
from ._types import Derivation, Params
from .families import RULE_CLASSES, defaults
from .overrides import Overrides
from .report import ClassCount, ImportReport, PointNote

__all__ = ["BUNDLE_FORMAT", "DEFAULT_PARAMETERS", "ISSUER", "ImportResult", "build_bundle"]

BUNDLE_FORMAT = "fundguard-kb-bundle"
ISSUER = "fundguard importer (NHSA published knowledge points)"
NEW_RULE_PREFIX = "NHSA2025"

DEFAULT_PARAMETERS: dict[str, Any] = {
    "child_below_years": 18,
    "working_age_min_years": 16,
    "working_age_below_years": 60,
    "hosp_lv_rank": {
        "01": 3, "02": 3, "03": 3, "04": 3, "05": 2, "06": 2, "07": 2, "08": 1, "09": 1, "10": 1, "11": 0,
    },
    "visit_class_by_med_type": {
        "11": "outpatient", "12": "outpatient", "13": "emergency", "14": "outpatient", "15": "outpatient",
        "16": "outpatient", "21": "inpatient", "22": "inpatient", "23": "inpatient", "24": "inpatient",
        "25": "inpatient", "26": "inpatient", "28": "inpatient", "41": "pharmacy", "51": "outpatient",
        "52": "inpatient",
    },
    "visit_class_by_med_mdtrt_type": {"1": "outpatient", "3": "inpatient"},
    "work_injury_insutypes": ["410"],
    "maternity_insutypes": ["510"],
    "maternity_med_types": ["51", "52", "53"],
    "internet_med_types": [],
    "surgery_discount_ratio": "0.5",
    "herbal_list_types": ["102"],
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The bundle (plain JSON data) and the report of how it was made."""

    bundle: dict[str, Any]
    report: ImportReport


def _parameters(overrides: Overrides, report: ImportReport) -> dict[str, Any]:
    params = copy.deepcopy(DEFAULT_PARAMETERS)
    for name, (value, why) in sorted(overrides.parameters.items()):
        params[name] = value
        report.parameter_overrides.append((name, why))
    return params


def _rules(source: Source, report: ImportReport) -> list[dict[str, Any]]:
    """One rule per rule class present that has an engine family, in catalogue order."""
    present: dict[str, SourcePoint] = {}
    for point in source.points:
        present.setdefault(point.rule_class, point)
    rules: list[dict[str, Any]] = []
    for name in sorted(present, key=lambda n: source.catalogue[n].seq):
        entry, first = source.catalogue[name], present[name]
        rule_id = first.gz_code or entry.gz_code or f"{NEW_RULE_PREFIX}-{entry.seq:02d}"
        spec = RULE_CLASSES.get(name)
        report.classes[name] = ClassCount(name, spec.family if spec else "", rule_id)
        if spec is None:
            continue
        tier = entry.tier1 or first.level1 or ""
        sev, workflow = defaults(name, tier)
        rules.append(
            {
                "rule_class": name,
                "rule_id": rule_id,
                "rule_name": name,
                "tier": tier,
                "family": spec.family,
                "sev_deg": sev,
                "workflow_impact": workflow,
            }
        )
    return rules


def _derive(point: SourcePoint, kb: Mapping[str, Any]) -> tuple[str, Derivation]:
    """(family, derivation) of one point; a missing family or codes is a derivation without params."""
    spec = RULE_CLASSES.get(point.rule_class)
    if spec is None:
        return "", Derivation.missing(f"no engine family for rule class {point.rule_class}")
    if not point.codes:
        return spec.family, Derivation.missing("row has no national codes (a published note, not an item)")
    return spec.family, spec.derive(point, kb)


def _source_doc(source: Source) -> dict[str, Any]:
    """The bundle's `source`: file digests, and the batches left out when some were (absent otherwise)."""
    doc: dict[str, Any] = {"files": dict(sorted(source.sha256.items()))}
    if source.excluded:
        doc["excluded_batches"] = list(source.excluded)
    return doc


def _is_prompt(family: str, params: Params) -> bool:
    """True when the point can only end in a clinician prompt (reason-required), not a decided violation."""
    return family == "second_line" or (family == "indication" and not params.get("icd10"))


def build_bundle(source: Source, overrides: Overrides, revision: int) -> ImportResult:
    """The bundle and report for `source` under `overrides` (already checked against the source)."""
    created_at = max(d for d in [*source.batch_dates.values(), *(p.published_at for p in source.points)] if d)
    report = ImportReport(revision=revision, created_at=created_at, total=len(source.points))
    parameters = _parameters(overrides, report)
    rules = _rules(source, report)
    replaced_on = {p.supersedes: p.published_at for p in source.points if p.supersedes}
    points: list[dict[str, Any]] = []
    not_compiled: list[dict[str, Any]] = []
    for point in source.points:
        counts = report.classes[point.rule_class]
        counts.points += 1
        family, derived = _derive(point, parameters)
        params, derived_by = derived.params, "text"
        override = overrides.points.get(point.kp_id)
        if override is not None and family:
            params, derived_by = {**(params or {}), **override.params}, "override"
            counts.overridden += 1
            report.overridden.append(PointNote(point.kp_id, point.rule_class, point.item_name, override.why))
            if derived.params is not None and derived.params == params:
                derived = Derivation.of(params, "override agrees with the text derivation", *derived.notes)
        note_base = (point.kp_id, point.rule_class, point.item_name)
        if params is None or not point.codes:
            counts.not_compiled += 1
            not_compiled.append(
                {"kp_id": point.kp_id, "rule_class": point.rule_class, "item_name": point.item_name,
                 "reason": derived.reason}
            )  # fmt: skip
            report.not_compiled.append(PointNote(*note_base, derived.reason))
            continue
        report.notes += [PointNote(*note_base, text) for text in derived.notes]
        if _is_prompt(family, params):
            counts.reason_required += 1
        else:
            counts.checkable += 1
        points.append(
            {
                "kp_id": point.kp_id,
                "rule_class": point.rule_class,
                "family": family,
                "item_name": point.item_name,
                "codes": list(point.codes),
                "constraint": point.constraint,
                "detect_logic": point.detect_logic,
                "batch": point.batch,
                "valid_from": point.published_at,
                "valid_to": replaced_on.get(point.kp_id),
                "supersedes": point.supersedes,
                "derived_by": derived_by,
                "params": params,
            }
        )
    bundle = {
        "format": BUNDLE_FORMAT,
        "format_version": 1,
        "revision": revision,
        "created_at": created_at,
        "issuer": ISSUER,
        "source": _source_doc(source),
        "parameters": parameters,
        "rules": rules,
        "points": points,
        "not_compiled": not_compiled,
    }
    return ImportResult(bundle, report)
