"""The import report: what was compiled per rule class, every point not compiled and why, and what to review.

`ImportReport` is plain data (the CLI and tests read its numbers); `render_report` turns it into the Markdown
committed as knowledge_base/default/review_report.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ClassCount", "ImportReport", "PointNote", "render_report"]


@dataclass(frozen=True, slots=True)
class PointNote:
    """One line about one point: why it was not compiled, why it was overridden, or a remark to review."""

    kp_id: str
    rule_class: str
    item_name: str
    text: str


@dataclass(slots=True)
class ClassCount:
    """Figures of one rule class."""

    rule_class: str
    family: str
    rule_id: str
    points: int = 0
    checkable: int = 0
    reason_required: int = 0
    not_compiled: int = 0
    overridden: int = 0


@dataclass(slots=True)
class ImportReport:
    """Everything the importer decided, for people."""

    revision: int
    created_at: str
    total: int = 0
    classes: dict[str, ClassCount] = field(default_factory=dict)
    not_compiled: list[PointNote] = field(default_factory=list)
    overridden: list[PointNote] = field(default_factory=list)
    notes: list[PointNote] = field(default_factory=list)
    parameter_overrides: list[tuple[str, str]] = field(default_factory=list)

    @property
    def checkable(self) -> int:
        """Points the engine decides on its own."""
        return sum(c.checkable for c in self.classes.values())

    @property
    def reason_required(self) -> int:
        """Points compiled as a clinician prompt (indication without ICD-10 mapping, second-line)."""
        return sum(c.reason_required for c in self.classes.values())

    @property
    def compiled(self) -> int:
        """Points in the bundle (checkable + reason-required)."""
        return self.checkable + self.reason_required

    @property
    def headline(self) -> str:
        """One line with the totals."""
        return (
            f"compiled {self.compiled:,} of {self.total:,} points (checkable {self.checkable:,}, "
            f"reason-required {self.reason_required:,}); not compiled {len(self.not_compiled):,}"
        )


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _notes_table(notes: list[PointNote], heading: str) -> list[str]:
    lines = ["| kp_id | rule class | item | " + heading + " |", "|---|---|---|---|"]
    lines += [f"| {n.kp_id} | {n.rule_class} | {_cell(n.item_name)} | {_cell(n.text)} |" for n in notes]
    return lines


def render_report(report: ImportReport) -> str:
    """The report as Markdown: headline, counts per class, every point not compiled, overrides, remarks."""
    out = [
        f"# Knowledge-base import report (revision {report.revision}, source of {report.created_at})",
        "",
        report.headline,
        "",
        "## Per rule class",
        "",
        "| rule class | rule_id | family | points | checkable | reason-required | not compiled | overridden |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for c in sorted(report.classes.values(), key=lambda c: (-c.points, c.rule_class)):
        out.append(
            f"| {c.rule_class} | {c.rule_id} | {c.family} | {c.points} | {c.checkable} | {c.reason_required} "
            f"| {c.not_compiled} | {c.overridden} |"
        )
    out += ["", f"## Not compiled ({len(report.not_compiled)})", ""]
    out += _notes_table(report.not_compiled, "reason") if report.not_compiled else ["None."]
    n = len(report.overridden)
    out += [
        "",
        f"## Overrides used ({n} point{'' if n == 1 else 's'}, {len(report.parameter_overrides)} global)",
        "",
    ]
    for name, why in report.parameter_overrides:
        out.append(f"- global parameter `{name}`: {why}")
    out += _notes_table(report.overridden, "why") if report.overridden else ["None."]
    out += ["", f"## Remarks for review ({len(report.notes)})", ""]
    out += _notes_table(report.notes, "remark") if report.notes else ["None."]
    return "\n".join(out) + "\n"
