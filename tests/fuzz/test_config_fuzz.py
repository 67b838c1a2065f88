"""Configuration loading (`--config FILE`) on 10,000 generated TOML files.

Files are made of the real sections and keys (read from the settings model, so new keys are fuzzed too), unknown
ones, and values of every TOML type — right, wrong, out of range, empty — plus lines of raw junk. `load_settings`
must give valid settings or a `ConfigError` whose problems each name a key or the file; never another exception.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from fundguard.agent.config import ConfigError, Settings, load_settings
from fundguard.agent.config.sections import ConfigModel

from . import FUZZ


def _sections() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, field in ConfigModel.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out[name] = list(kind.model_fields)
    return out


SECTIONS = _sections()
SCALARS = (
    "0", "1", "-1", "65536", "1099511627776", "-1099511627776", "1e9", "0.5", "nan", "inf", "true", "false",
    '"127.0.0.1:0"', '"0.0.0.0:99999"', '"unix:/tmp/x.sock"', '"/nonexistent/path"', '""', '"full"', '"  "',
    "[]", '["a", "b"]', "[1, 2]", "{}", "{ a = 1 }", "1979-05-27", "07:32:00", '"中文"', '"\\u0000"',
)  # fmt: skip
TEXT = "abcxyzAZ09 :./-_\\中\n\t\"'"
JUNK = ("[", "]]", "= 1", "key =", '"unterminated', "[grpc", "x = 1 = 2", "\x00", "[[grpc]]", "")


def toml_file(seed: int) -> str:
    """A config file's text, built from `seed`: real sections and keys (and unknown ones), values of every TOML type
    (right, wrong, out of range, random strings), now and then a line of junk."""
    rng = random.Random(seed)
    sections = sorted(SECTIONS)
    lines = []
    for _ in range(rng.randrange(5)):
        section = rng.choice(sections) if rng.random() < 0.9 else rng.choice(("nosuch", "grpc.sub"))
        lines.append(f"[{section}]")
        keys = SECTIONS.get(section, ["x"])
        for _ in range(rng.randrange(5)):
            key = rng.choice(keys) if rng.random() < 0.9 else "unknown_key"
            if rng.random() < 0.2:
                value = json.dumps("".join(rng.choice(TEXT) for _ in range(rng.randrange(12))), ensure_ascii=False)
            else:
                value = rng.choice(SCALARS)
            lines.append(f"{key} = {value}")
        if rng.random() < 0.1:
            lines.append(rng.choice(JUNK))
    return "\n".join(lines) + "\n"


def test_any_toml_gives_settings_or_errors_naming_the_key(tmp_path: Path) -> None:
    """10,000 files: Settings, or a ConfigError with one non-empty problem per bad key (or the file itself)."""
    path = tmp_path / "fundguard.toml"

    @FUZZ
    @given(st.integers(0, 2**32 - 1))
    def prop(seed: int) -> None:
        path.write_text(toml_file(seed), encoding="utf-8")
        try:
            settings = load_settings(path)
        except ConfigError as exc:
            assert exc.problems and all(problem.strip() for problem in exc.problems)
            return
        assert isinstance(settings, Settings)

    prop()
