"""The hospital's code map: 医院目录代码 (`hosplist_code`) → 医保目录代码 (`hilist_code`), shared by every adapter."""

from .code_map import CodeMap, CodeMapError, load_code_map

__all__ = ["CodeMap", "CodeMapError", "load_code_map"]
