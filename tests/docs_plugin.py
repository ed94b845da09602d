"""The plug-in printed in ``docs/threat_models.md``, written out exactly as printed.

The page marks the listing with ``<!-- plugin file: NAME.py -->`` on the line before its
fenced ``python`` block; :func:`write_plugin` copies that block, unchanged, into a folder
outside the package, as a user would save it.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "threat_models.md"
NAME = "phase_ramp"
_BLOCK = re.compile(r"<!-- plugin file: (?P<file>[\w.]+) -->\n```python\n(?P<code>.*?)\n```", re.S)


def listings() -> dict[str, str]:
    """``file name -> code`` of every marked listing of the page."""
    text = DOC.read_text(encoding="utf-8")
    return {m["file"]: m["code"] + "\n" for m in _BLOCK.finditer(text)}


def write_plugin(folder: Path) -> Path:
    """Write ``phase_ramp.py`` from the page into ``folder`` and return its path."""
    code = listings()[f"{NAME}.py"]
    path = Path(folder) / f"{NAME}.py"
    path.write_text(code, encoding="utf-8")
    return path
