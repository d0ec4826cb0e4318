"""The pieces every inline SVG chart of the staff pages is drawn with (the scores'
report pages, voting/scores/charts.py; an assessment's period, voting/schemes/charts.py).

Plain strings, no JavaScript, no chart library. A chart is one `<svg>` on a 360-unit
wide viewBox (a phone's width, so the fonts below are close to their nominal size on a
phone), shown with `width="100%"` up to 40rem on a desktop (app.css, `svg.chart`: the
staff pages' CSP allows no inline style); it never overflows sideways. It is
`role="img"` with a Chinese `aria-label` that carries the title and a short summary
(also in `<title>` and `<desc>`), because a screen reader sees nothing inside an image.

Every text that goes into an SVG goes through `esc`: names come from uploaded files,
and XML 1.0 refuses some characters even escaped. Here, in core, because a feature
package's services may import core and not each other's pages.
"""
from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup, escape

WIDTH = 360  # viewBox width of every chart
FONT_FAMILY = "'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
FONT_SIZE = 13
SMALL = 11
INK = "#212529"
MUTED = "#495057"
GRID = "#dee2e6"
TRACK = "#f1f3f5"

# Characters that XML 1.0 does not allow, even escaped (an uploaded name may hold one).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def esc(value: object) -> str:
    """Escaped text for an element or an attribute, without characters XML refuses."""
    return str(escape(_NOT_XML.sub("", str(value))))


def num(value: float) -> str:
    """A coordinate: at most 2 decimals, no trailing zeros."""
    shown = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if shown == "-0" else shown


def text_width(text: str, size: float) -> float:
    """Estimated drawn width: CJK and other wide characters one em, the rest 0.6 em.
    Ambiguous ones (…, ×, Greek) count as wide: a CJK font draws them so."""
    return sum(size if unicodedata.east_asian_width(ch) in "WFA" else 0.6 * size for ch in text)


def fit(text: str, width: float, size: float) -> str:
    """`text`, cut with an ellipsis to fit `width` at font `size`."""
    if text_width(text, size) <= width:
        return text
    room = width - text_width("…", size)
    kept = ""
    for ch in text:
        if text_width(kept + ch, size) > room:
            break
        kept += ch
    return kept + "…"


def text(x: float, y: float, content: str, *, size: int = FONT_SIZE, anchor: str = "start",
         fill: str = INK, cls: str = "") -> str:
    """A `<text>` at (x, y), its content escaped."""
    attrs = f' class="{cls}"' if cls else ""
    anchor_attr = f' text-anchor="{anchor}"' if anchor != "start" else ""
    return (f'<text x="{num(x)}" y="{num(y)}" font-size="{size}" fill="{fill}"{anchor_attr}{attrs}>'
            f"{esc(content)}</text>")


def svg(height: float, title: str, summary: str, body: list[str], cls: str) -> Markup:
    """The chart: `body` (drawn, escaped parts) in an accessible `<svg>` `height` units high."""
    label = f"{title}。{summary}" if summary else title
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {num(height)}" width="100%" '
        f'role="img" aria-label="{esc(label)}" class="chart {cls}" '
        f'font-family="{FONT_FAMILY}" font-size="{FONT_SIZE}">'
        f"<title>{esc(title)}</title><desc>{esc(summary)}</desc>"
        + "".join(body)
        + "</svg>"
    )


def notice(title: str, message: str, cls: str) -> Markup:
    """A small chart that only says why there is nothing to draw."""
    body = [text(WIDTH / 2, 28, message, anchor="middle", fill=MUTED, cls="notice")]
    return svg(44, title, message, body, f"{cls} chart-empty")


def legend(items: list[tuple[str, str]], y: float, *, swatch: str = "rect") -> tuple[list[str], float]:
    """Swatches (a colour, or with `swatch="marker"` a shape's markup with {cx} and {cy})
    and labels flowing over as many rows as the width needs; returns the drawn items and
    the y below them."""
    parts, x, row_h = [], 4.0, 16.0
    for colour_or_shape, label in items:
        width = 14 + text_width(label, SMALL) + 12
        if x + width > WIDTH - 4 and x > 4:
            x, y = 4.0, y + row_h
        if swatch == "rect":
            parts.append(f'<rect x="{num(x)}" y="{num(y - 9)}" width="10" height="10" fill="{colour_or_shape}"/>')
        else:
            parts.append(colour_or_shape.format(cx=num(x + 5), cy=num(y - 4)))
        parts.append(text(x + 14, y, label, size=SMALL, cls="legend"))
        x += width
    return [f'<g class="legend">{"".join(parts)}</g>'], y + row_h
