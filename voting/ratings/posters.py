"""The printable posters of rating codes (评议二维码海报): one A4 page per code, all the
codes of a selection in one PDF, to print and put up at the counters.

A page, from the top: the unit, the place's name (the section or the window), the big
words 扫码评价, what the citizen can do there, the QR code of the code's full rating
address with the address printed small under it, and the code's number (编号, which the
office's page shows next to its revoke button: the poster to take down).

A4, the size of the counters' other notices (政务公开栏) and of every office printer;
an A5 counter stand takes it shrunk to 71 %, the QR code still some 65 mm wide.

Drawn with reportlab (`reportlab` in install_requires) in its built-in CID font
STSong-Light (宋体), which every PDF reader carries (Adobe's Asian font packs), so no
font file is shipped or embedded and a page is a few kilobytes. The QR code is segno's
(the QR maker the platform already uses for the second factor's enrolment), drawn as
vector squares from its matrix: sharp at any print size, the same matrix as the office
page's SVG, and checkable (`qr_matrix`) by a test that reads the drawn squares back;
reportlab's own QR widget would encode the address with its own choices of version
and mask, a second QR implementation to trust.

Names are drawn as plain strings, never as markup (no reportlab Paragraph), so a
name with "<", "&" or quotes is printed as it is; control characters are dropped; a
name too long for its line is drawn smaller, down to a floor, then wrapped over at
most a few lines and cut with "…" (the full name is in the office's lists).
"""
from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from voting.ratings.models import CodeKind

FONT = "STSong-Light"
LATIN = "Helvetica"  # the address, when it is all ASCII (it is: a URL and a URL-safe token)
PAGE = A4
MARGIN = 18 * mm
QR_SIZE = 110 * mm  # the QR code's side, quiet zone included
QR_BORDER = 4  # modules of quiet zone (the standard's minimum)
QR_ERROR = "q"  # 25 % of the code may be dirty, torn or covered by tape and still read
TITLE = "扫码评价"
WHAT = {
    CodeKind.section: "对本科室的服务进行评价，可匿名",
    CodeKind.window: "对本窗口的服务进行评价，可匿名",
    CodeKind.case: "对本次办件的服务进行评价，可匿名",
}
ELLIPSIS = "…"


@dataclass(frozen=True)
class Poster:
    """One page: `place` (the section's or the window's name), `unit`, what the code is
    for (`kind`: a case code's poster names the case), the full rating `address`, the
    code's number, and for a case code its reference (办件编号)."""

    code_id: int
    kind: CodeKind
    place: str
    unit: str
    address: str
    case_ref: str | None = None


def _register() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def printable(text: str) -> str:
    """`text` as one line: control and format characters dropped, runs of space one."""
    kept = "".join(" " if unicodedata.category(ch) in ("Zl", "Zp") or ch in "\t\r\n" else ch
                   for ch in unicodedata.normalize("NFC", text or "") if unicodedata.category(ch)[0] != "C"
                   or ch in "\t\r\n")
    return " ".join(kept.split())


def _width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size)


def fit(text: str, font: str, width: float, largest: float, smallest: float, max_lines: int) -> tuple[float, list[str]]:
    """(font size, lines) to draw `text` within `width`: on one line at the largest size
    that fits, down to `smallest`; beyond that wrapped at `smallest` over at most
    `max_lines`, the last one cut with "…"."""
    size = largest
    while size > smallest and _width(text, font, size) > width:
        size = max(smallest, size - 1)
    if _width(text, font, size) <= width:
        return size, [text]
    lines, line = [], ""
    for ch in text:
        if line and _width(line + ch, font, size) > width:
            lines.append(line)
            line = "" if ch == " " else ch
        else:
            line += ch
    lines.append(line)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and _width(last + ELLIPSIS, font, size) > width:
            last = last[:-1]
        lines = [*lines[:max_lines - 1], last + ELLIPSIS]
    return size, lines


def qr_matrix(address: str) -> list[list[bool]]:
    """The QR code's modules for `address` (True: dark), quiet zone not included: what
    a poster draws."""
    code = segno.make(address, error=QR_ERROR, micro=False)
    return [[bool(cell) for cell in row] for row in code.matrix]


def _centred(canvas: Canvas, lines: list[str], font: str, size: float, top: float, leading: float = 1.25) -> float:
    """Draw `lines` centred from `top` down; the y below the last line."""
    y = top
    for line in lines:
        y -= size
        canvas.setFont(font, size)
        canvas.drawCentredString(PAGE[0] / 2, y, line)
        y -= size * (leading - 1)
    return y


def _draw_qr(canvas: Canvas, matrix: list[list[bool]], x: float, y: float, side: float) -> None:
    """The matrix as filled squares in a `side`-wide square whose lower left is (x, y),
    the quiet zone inside it: each row's runs of dark modules one rectangle, written in
    module units (whole numbers: a county's 400 posters' squares are written in well
    under a second, where reportlab's path object formats each float)."""
    count = len(matrix) + 2 * QR_BORDER
    module = side / count
    runs = []
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                runs.append(f"{start + QR_BORDER} {count - 1 - r - QR_BORDER} {c - start} 1 re")
            else:
                c += 1
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(module, module)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.addLiteral("\n".join(runs) + "\nf")
    canvas.restoreState()


def _page(canvas: Canvas, poster: Poster) -> None:
    width, height = PAGE
    inner = width - 2 * MARGIN
    canvas.setFillColorRGB(0, 0, 0)
    y = height - MARGIN
    size, lines = fit(printable(poster.unit), FONT, inner, 22, 12, 2)
    y = _centred(canvas, lines, FONT, size, y)
    size, lines = fit(printable(poster.place), FONT, inner, 40, 18, 3)
    y = _centred(canvas, lines, FONT, size, y - 4 * mm)
    if poster.case_ref:
        size, lines = fit(f"办件编号：{printable(poster.case_ref)}", FONT, inner, 16, 10, 1)
        y = _centred(canvas, lines, FONT, size, y - 2 * mm)
    y = _centred(canvas, [TITLE], FONT, 60, y - 8 * mm)
    y = _centred(canvas, [WHAT[poster.kind]], FONT, 18, y - 4 * mm)
    qr_top = y - 4 * mm
    side = min(QR_SIZE, qr_top - MARGIN - 24 * mm)
    _draw_qr(canvas, qr_matrix(poster.address), (width - side) / 2, qr_top - side, side)
    address = printable(poster.address)
    font = LATIN if address.isascii() else FONT
    size, lines = fit(address, font, inner, 9, 7, 3)
    y = _centred(canvas, lines, font, size, qr_top - side - 1 * mm, leading=1.3)
    canvas.setFont(FONT, 9)
    canvas.drawRightString(width - MARGIN, MARGIN / 2, f"编号 {poster.code_id}")


def write_posters(posters: Iterable[Poster], title: str = "评议二维码海报") -> bytes:
    """The posters as one PDF, one A4 page each (a page saying there is none for an
    empty selection, so that a download is never an unreadable file)."""
    _register()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, pageCompression=1, invariant=True)
    canvas.setTitle(title)
    canvas.setCreator("千人评议平台")
    drawn = 0
    for poster in posters:
        _page(canvas, poster)
        canvas.showPage()
        drawn += 1
    if not drawn:
        canvas.setFont(FONT, 18)
        canvas.drawCentredString(PAGE[0] / 2, PAGE[1] / 2, "所选范围内没有在用的评议二维码。")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
