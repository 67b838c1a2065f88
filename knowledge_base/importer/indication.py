"""Map 药品限适应症 indication text to ICD-10 医保版 diagnosis-code prefixes (and what is left to confirm).

The mapping is data: `data/indication_icd10.json` lists reviewed disease `terms` (with `aliases`) and their
ICD-10 prefixes, `masks` (phrases that name a disease but are not the indication there: a gene such as
间变性淋巴瘤激酶, a comorbidity of an AND such as 2型糖尿病「相关的慢性肾脏病」) and `open` phrases (a way to
qualify that no diagnosis code captures: 预防…, 生育保险, 实体瘤 …). This module only reads the text's shape:

- the text is cut into alternatives (numbered items `1.` `2.` …, else `；`-parts of the first sentence; a
  `：` before the `；`s makes them sub-conditions of one alternative); the lead-in before item 1 and the
  sentences after the first are conditions on every alternative;
- in each comma part terms are found longest first, skipping negated ones (非/无 right before, 阴性 right
  after, inside 不包括…/不含…/…除外);
- the prefixes are the union over the alternatives; an alternative without a term (it inherits the lead-in's
  terms if it has any) or any open phrase makes the diagnosis undecidable: no prefixes, the whole constraint
  is the confirm text;
- otherwise `confirm` is the parts (original wording) that say more than a diagnosis (line of therapy, gene,
  stage, prior treatment, 支付不超过14天 …), or None when the text is purely a diagnosis list.

`python -m fundguard.knowledge_base.importer.indication [SRC] [--out FILE]` prints the review report (coverage
and the texts left unmapped) as Markdown; `data/indication_review.md` is its committed output.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path

__all__ = ["PREFIX_RE", "Lexicon", "derive_indication", "load_lexicon", "render_review"]

RULE_CLASS = "药品限适应症"
DATA_FILE = "indication_icd10.json"
PREFIX_RE = re.compile(r"^[A-Z]\d{2}(\.[0-9X]{1,4})?$")
ITEM_RE = re.compile(r"(?:^|(?<=[：:；;。，,\s限]))(\d{1,2})\s*[.．](?!\d)")
ASCII_PAREN_RE = re.compile(r"\([\x20-\x27\x2a-\x7e≥≤±αβγ]*\)")  # (NSCLC) (CKD) (COVID-19): abbreviations
NEGATED_RE = re.compile(r"(?:不包括|不含)[^的)]*|\([^()]*除外\)|^但?[^()]*除外$")
FILLER_RE = re.compile(
    "限以下情况方可支付|以下情况|方可支付|方予支付|临床确诊|诊断明确|诊断证据|诊断为|诊断|确诊|明确|证据|"
    "适用于|患者|患有|成年人|成年|成人|用于|治疗|以及|[的者有限或及和与]"
)
MEANINGFUL_RE = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
NEGATORS = "非无"
TERM, MASK, OPEN = "term", "mask", "open"


def fold(text: str) -> str:
    """Matching form: NFKC (full-width punctuation and digits to ASCII, Ⅱ to II), whitespace dropped."""
    return "".join(unicodedata.normalize("NFKC", text).split())


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Folded phrases, longest first, each with its kind (term/mask/open) and prefixes (terms only)."""

    phrases: tuple[tuple[str, str, tuple[str, ...]], ...]


def load_lexicon(path: Path | None = None) -> Lexicon:
    """Read the reviewed mapping (the shipped `data/indication_icd10.json` by default)."""
    if path is None:
        raw = resources.files(__package__ or "").joinpath("data", DATA_FILE).read_text("utf-8")
    else:
        raw = Path(path).read_text("utf-8")
    data = json.loads(raw)
    found: dict[str, tuple[str, tuple[str, ...]]] = {}

    def add(phrase: str, kind: str, prefixes: tuple[str, ...]) -> None:
        key = fold(phrase)
        if key in found:
            raise ValueError(f"{DATA_FILE}: {phrase!r} is listed twice")
        found[key] = (kind, prefixes)

    for entry in data["terms"]:
        prefixes = tuple(entry["icd10"])
        bad = [p for p in prefixes if not PREFIX_RE.match(p)]
        if bad or not prefixes:
            raise ValueError(f"{DATA_FILE}: term {entry['term']!r} has bad ICD-10 prefixes {bad or prefixes}")
        for name in (entry["term"], *entry.get("aliases", ())):
            add(name, TERM, prefixes)
    for key, kind in (("masks", MASK), ("open", OPEN)):
        for entry in data.get(key, ()):
            add(entry["phrase"], kind, ())
    ordered = sorted(found.items(), key=lambda kv: (-len(kv[0]), kv[0]))
    return Lexicon(tuple((phrase, kind, prefixes) for phrase, (kind, prefixes) in ordered))


@cache
def _shipped() -> Lexicon:
    return load_lexicon()


@dataclass(frozen=True, slots=True)
class _Scan:
    """What one comma part says: term prefixes, an open phrase, and whether more than a diagnosis is left."""

    prefixes: frozenset[str]
    opened: bool
    residual: bool


def _scan(part: str, lexicon: Lexicon) -> _Scan:
    text = ASCII_PAREN_RE.sub("", fold(part))
    negated = [m.span() for m in NEGATED_RE.finditer(text)]
    taken = [False] * len(text)
    kept = list(text)
    prefixes: set[str] = set()
    opened = False
    for phrase, kind, codes in lexicon.phrases:
        start = text.find(phrase)
        while start >= 0:
            end = start + len(phrase)
            if not any(taken[start:end]):
                taken[start:end] = [True] * len(phrase)
                off = (
                    any(a <= start < b for a, b in negated)
                    or (start > 0 and text[start - 1] in NEGATORS and phrase[0] not in NEGATORS)
                    or text.startswith("阴性", end)
                )
                if kind == TERM and not off:
                    prefixes.update(codes)
                    kept[start:end] = [""] * len(phrase)
                opened = opened or (kind == OPEN and not off)
            start = text.find(phrase, start + 1)
    residual = FILLER_RE.sub("", "".join(kept))
    return _Scan(frozenset(prefixes), opened, bool(MEANINGFUL_RE.search(residual)))


def _parts(segment: str) -> list[str]:
    """Comma/colon/semicolon parts of a segment, never cutting inside brackets."""
    parts, depth, current = [], 0, ""
    for char in segment:
        depth += char in "(（[【"
        depth -= depth > 0 and char in ")）]】"
        if depth == 0 and char in "，,：:；;。":
            parts.append(current)
            current = ""
        else:
            current += char
    return [p.strip() for p in [*parts, current] if p.strip()]


def _structure(constraint: str) -> tuple[list[str], list[str], list[str]]:
    """(lead-in, alternatives, trailing conditions) as segments of the original text."""
    text = constraint.strip()
    markers: list[re.Match[str]] = []
    for m in ITEM_RE.finditer(text):
        if int(m.group(1)) == len(markers) + 1:
            markers.append(m)
    if len(markers) >= 2:
        head = [text[: markers[0].start()]]
        items = [text[m.end() : n.start()] for m, n in pairwise(markers)]
        last, _, tail = text[markers[-1].end() :].partition("。")
        return head, [*items, last], [tail]
    body, _, tail = text.partition("。")
    colon = min((i for i in (body.find("："), body.find(":")) if i >= 0), default=-1)
    semi = max(body.find("；"), body.find(";"))
    if colon >= 0 and semi > colon:
        return [], [body], [tail]
    return [], [s for s in re.split("[；;]", body) if s.strip()], [tail]


def _clean(part: str) -> str:
    return re.sub(r"^(限[：:]?|\d{1,2}\s*[.．]|[且并或及和、，,])\s*", "", part).strip(" 。；;，,：:")


def _scans(segments: list[str], lexicon: Lexicon) -> list[list[tuple[str, _Scan]]]:
    return [[(part, _scan(part, lexicon)) for part in _parts(seg)] for seg in segments]


def _said(scanned: list[list[tuple[str, _Scan]]]) -> list[str]:
    """Per segment, its parts that say more than a diagnosis, rejoined with commas."""
    return [_clean("，".join(p for p, s in parts if s.residual)) for parts in scanned]


def derive_indication(constraint: str, item_name: str) -> tuple[list[str], str | None]:
    """(sorted ICD-10 prefixes of acceptable diagnoses — empty when not mappable, condition to confirm or None).

    `item_name` is accepted for the importer's call shape; the mapping reads the constraint only.
    """
    del item_name
    lexicon = _shipped()
    head, items, tail = _structure(constraint)
    head_scans, item_scans, tail_scans = (_scans(s, lexicon) for s in (head, items, tail))
    inherited = frozenset().union(*(s.prefixes for parts in head_scans for _, s in parts))
    opened = any(s.opened for parts in (*head_scans, *item_scans, *tail_scans) for _, s in parts)
    prefixes: set[str] = set()
    for parts in item_scans:
        found = frozenset().union(*(s.prefixes for _, s in parts)) or inherited
        opened = opened or not found
        prefixes |= found
    if opened or not prefixes:
        return [], constraint.strip()
    conditions = _said(head_scans) + _said(item_scans) + _said(tail_scans)
    return sorted(prefixes), "；".join(c for c in conditions if c) or None


def render_review(points: Iterable[tuple[str, str]]) -> str:
    """Markdown review of (constraint, item_name) pairs: coverage, then every text left confirm-only."""
    rows = list(points)
    derived = {text: derive_indication(text, name) for text, name in rows}
    mapped = [t for t, _ in rows if derived[t][0]]
    exact = [t for t in mapped if derived[t][1] is None]
    texts = sorted({t for t, _ in rows})
    left = [t for t in texts if not derived[t][0]]
    share = 100 * len(mapped) / len(rows) if rows else 0.0
    out = [
        "# 药品限适应症 → ICD-10 (医保版) prefixes: review",
        "",
        "Generated by `python -m fundguard.knowledge_base.importer.indication`; mapping data in",
        "`indication_icd10.json`. Mapped points are checked against the encounter's diagnoses; confirm-only",
        "points become a reason-required prompt.",
        "",
        "| | points | distinct texts |",
        "|---|---|---|",
        f"| all | {len(rows)} | {len(texts)} |",
        f"| mapped (prefixes) | {len(mapped)} ({share:.1f}%) | {len(set(mapped))} |",
        f"| … of which diagnosis alone decides (confirm None) | {len(exact)} | {len(set(exact))} |",
        f"| confirm-only (no prefixes) | {len(rows) - len(mapped)} | {len(left)} |",
        "",
        "## Texts left confirm-only",
        "",
        *(f"- {t}" for t in left),
        "",
        "## Mapped texts",
        "",
        "| text | prefixes | confirm |",
        "|---|---|---|",
        *(f"| {t} | {' '.join(derived[t][0])} | {derived[t][1] or '—'} |" for t in texts if derived[t][0]),
    ]
    return "\n".join(out) + "\n"


def _read_points(src: Path) -> list[tuple[str, str]]:
    with (src / "knowledge_points.jsonl").open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return [(r["constraint"] or "", r["item_name"] or "") for r in records if r["rule_class"] == RULE_CLASS]


def main(argv: list[str] | None = None) -> int:
    """Print (or write) the review report for the knowledge points in SRC."""
    parser = argparse.ArgumentParser(prog="python -m fundguard.knowledge_base.importer.indication")
    parser.add_argument("src", type=Path, nargs="?", default=Path("../shared/nhsa-knowledge-points"))
    parser.add_argument("--out", type=Path, help="write the Markdown here instead of standard output")
    args = parser.parse_args(argv)
    report = render_review(_read_points(args.src))
    if args.out is None:
        sys.stdout.write(report)
    else:
        args.out.write_text(report, encoding="utf-8")
        print(report.split("## Texts left")[0].strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
