"""The hospital code map: CSV loading with line-numbered errors, and mapping requests before the engine."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from fundguard.agent.codes import CodeMapError, load_code_map
from fundguard.agent.engine.model import CheckRequest, Encounter, OrderLine, Patient

IUD = "XG02BAZ061Z007010279543"


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "map.csv"
    path.write_bytes(text.encode(encoding))
    return path


def request(*lines: OrderLine, history: tuple[Encounter, ...] = ()) -> CheckRequest:
    return CheckRequest("1", Patient("P1", "1", date(1960, 1, 1)), Encounter("E1", orders=lines), history)


def test_loads_utf8_bom_and_gb18030_with_extra_columns(tmp_path: Path) -> None:
    """Header names pick the columns (extras ignored); BOM and GB18030 files both load."""
    text = "hosplist_name,hosplist_code,hilist_code\n曼月乐,H-001,XG02BAZ061Z007010279543\n维B1,H-002,X2\n"
    for encoding in ("utf-8-sig", "gb18030"):
        codes = load_code_map(write(tmp_path, text, encoding))
        assert (2, IUD, None) == (len(codes), codes.national("H-001"), codes.national("H-404"))


def test_every_bad_line_is_reported_with_its_number(tmp_path: Path) -> None:
    """Empty cells and one hospital code mapped two ways are errors naming the line; same pair twice is fine."""
    text = "hosplist_code,hilist_code\nH1,X1\nH2,\n,X3\nH1,X9\nH1,X1\n\n"
    with pytest.raises(CodeMapError) as err:
        load_code_map(write(tmp_path, text))
    expected = (
        "line 3: hilist_code is empty",
        "line 4: hosplist_code is empty",
        "line 5: hosplist_code 'H1' maps to 'X9', line 2 to 'X1'",
    )
    assert expected == err.value.problems


def test_missing_columns_and_missing_file_are_clear(tmp_path: Path) -> None:
    """A header without the two columns, and an unreadable file, are CodeMapErrors saying so."""
    with pytest.raises(CodeMapError, match=r"line 1: header must have columns hilist_code"):
        load_code_map(write(tmp_path, "hosplist_code,national\nH1,X1\n"))
    with pytest.raises(CodeMapError, match="cannot read"):
        load_code_map(tmp_path / "absent.csv")


def test_resolve_fills_only_lines_that_carry_just_a_hospital_code(tmp_path: Path) -> None:
    """Mapped hospital codes get their national code (current, earlier and history lines); national codes and
    unmapped codes are left as they are; a request needing nothing is returned as is."""
    codes = load_code_map(write(tmp_path, "hosplist_code,hilist_code\nH-001,XG02BAZ061Z007010279543\n"))
    one = Decimal(1)
    mapped = OrderLine("1", "", one, hosplist_code="H-001")
    national = OrderLine("2", "X-NATIONAL", one, hosplist_code="H-001")
    unmapped = OrderLine("3", "", one, hosplist_code="H-404")
    past = Encounter("E0", orders=(OrderLine("9", "", one, hosplist_code="H-001"),))
    out = codes.resolve(request(mapped, national, unmapped, history=(past,)))
    expected = [IUD, "X-NATIONAL", "", IUD]
    assert expected == [o.hilist_code for o in (*out.encounter.orders, *out.history[0].orders)]
    untouched = request(national)
    assert untouched is codes.resolve(untouched)
