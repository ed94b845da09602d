"""The Jinja2 templates of the report page, the model card and the leaderboard.

The layout of every generated page lives here, the numbers come from Python: change a template
to change how a page looks without touching what it says. :func:`render` fills one.
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["render"]


def _num(x: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; ``None``/NaN as an em dash."""
    if x is None:
        return "—"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "—" if v != v else f"{v:.{digits}f}"


def _code(text: Any) -> Any:
    """``text`` escaped for HTML, with `backticked` spans as ``<code>``."""
    import html
    import re

    from markupsafe import Markup

    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(str(text))))


def _md(value: Any) -> str:
    """Text safe in a Markdown table cell: one line, pipes escaped, HTML shown as text."""
    import html

    return html.escape(" ".join(str(value).split()), quote=False).replace("|", "\\|")


@cache
def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("advrecon.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "html.j2"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = _num
    env.filters["code"] = _code
    env.filters["md"] = _md
    return env


def render(name: str, **context: Any) -> str:
    """The template ``name`` filled with ``context``."""
    return _env().get_template(name).render(**context)
