"""What the platform's Word documents share (python-docx): the offices' body font and a
plain ruled table. The window assessments' monthly report (voting/schemes/report.py) and
the units' notices of the results' consequences (voting/scores/consequences.py) use them."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from docx.oxml.ns import qn
from docx.shared import Pt


def official_font(document: Any) -> None:  # python-docx has no types
    """The body text in 仿宋, 14 pt (四号), the Chinese font set for East Asian text too."""
    style = document.styles["Normal"]
    style.font.name, style.font.size = "仿宋", Pt(14)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "仿宋")


def ruled_table(document: Any, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A table with every border ruled: the header in bold (no header row when every
    heading is empty), then the rows as text."""
    table = document.add_table(rows=1 if any(header) else 0, cols=len(header))
    table.style = "Table Grid"
    if any(header):
        for cell, text in zip(table.rows[0].cells, header):
            cell.text = text
            cell.paragraphs[0].runs[0].bold = True
    for values in rows:
        for cell, text in zip(table.add_row().cells, values):
            cell.text = text
