"""The rating codes' posters (voting/ratings/posters.py): one A4 page per code in one
PDF that pypdf opens; the unit, the place's name, the big words, what the citizen can
do and the address are text on the page (STSong-Light's text extracts with pypdf); the
QR squares drawn are segno's matrix of the address (no QR decoder is installed: the
squares are read back from the page's content and compared with the matrix segno makes
for the address); hostile names neither break the layout nor become markup."""
from __future__ import annotations

import io
import re

import pypdf
import pytest
import segno

from voting.ratings import posters
from voting.ratings.models import CodeKind
from voting.ratings.posters import Poster, fit, qr_matrix, write_posters

ADDRESS = "https://pingyi.example.gov.cn/r/WzEsIm5vbmNlLW5vbmNlLW5vbmNlLW5vIl0.abcdefghijklmnopqrstuvwxyz0"
RUN = re.compile(r"^(\d+) (\d+) (\d+) 1 re$", re.M)


def pages(data: bytes) -> list[pypdf.PageObject]:
    return list(pypdf.PdfReader(io.BytesIO(data)).pages)


def drawn_matrix(page: pypdf.PageObject) -> list[list[bool]]:
    """The QR squares the page draws (runs of dark modules in module units, the quiet
    zone included) as a matrix without the quiet zone."""
    content = page.get_contents().get_data().decode("latin-1")
    runs = [tuple(map(int, m.groups())) for m in RUN.finditer(content)]
    assert runs, "no QR squares on the page"
    border = posters.QR_BORDER
    size = max(c + n for c, _, n in runs) - border  # the last dark column is in the finder pattern
    matrix = [[False] * size for _ in range(size)]
    count = size + 2 * border
    for c, y, n in runs:
        row = count - 1 - y - border
        for col in range(c - border, c - border + n):
            matrix[row][col] = True
    return matrix


def test_one_a4_page_per_poster_with_its_text_and_its_qr_code():
    drawn = [Poster(7, CodeKind.section, "价格科", "县发改局", ADDRESS),
             Poster(8, CodeKind.window, "公安局窗口", "县公安局", ADDRESS.replace("abc", "xyz"))]
    found = pages(write_posters(drawn))
    assert len(found) == 2
    for page, poster in zip(found, drawn):
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)  # A4
        text = page.extract_text()
        for words in (poster.place, poster.unit, "扫码评价", posters.WHAT[poster.kind], poster.address,
                      f"编号 {poster.code_id}"):
            assert words in text, (words, text)
        assert drawn_matrix(page) == qr_matrix(poster.address)
    assert "对本科室的服务进行评价，可匿名" in found[0].extract_text()
    assert "对本窗口的服务进行评价，可匿名" in found[1].extract_text()


def test_the_drawn_matrix_is_segnos_code_of_the_address():
    code = segno.make(ADDRESS, error=posters.QR_ERROR, micro=False)
    assert qr_matrix(ADDRESS) == [[bool(c) for c in row] for row in code.matrix]
    assert code.error == "Q" and code.mode == "byte"


def test_hostile_names_are_printed_as_they_are_and_kept_on_the_page():
    long = "平阳县行政审批服务中心不动产登记与交易综合受理窗口" * 12
    markup = '<b>价格科</b> & "引号" \'x\' <script>alert(1)</script>'
    drawn = [Poster(1, CodeKind.section, long, long, ADDRESS),
             Poster(2, CodeKind.window, markup, "县发改局\x00\x1b[31m\n第二行", ADDRESS),
             Poster(3, CodeKind.window, "", "", ADDRESS),
             Poster(4, CodeKind.window, "W" * 400, "单位", ADDRESS)]
    found = pages(write_posters(drawn))
    assert len(found) == 4
    first = found[0].extract_text()
    assert "…" in first and "扫码评价" in first and ADDRESS in first
    second = found[1].extract_text()
    assert markup in second and "县发改局[31m 第二行" in second and "\x1b" not in second
    assert "扫码评价" in found[2].extract_text()
    for page, poster in zip(found, drawn):
        assert drawn_matrix(page) == qr_matrix(poster.address)


@pytest.mark.parametrize("name", ["价格科", "平阳县行政审批服务中心不动产登记与交易综合受理窗口" * 12, "W" * 400,
                                  "<>&\"'" * 50])
def test_every_line_fits_the_page(name):
    width = posters.PAGE[0] - 2 * posters.MARGIN
    size, lines = fit(name, posters.FONT, width, 40, 18, 3)
    assert 18 <= size <= 40 and 1 <= len(lines) <= 3
    assert all(posters.pdfmetrics.stringWidth(line, posters.FONT, size) <= width for line in lines)
    assert "".join(lines).rstrip("…") in name
    assert (len(lines) == 1 and lines[0] == name) or size == 18


def test_an_empty_selection_is_a_page_saying_so():
    [page] = pages(write_posters([]))
    assert "所选范围内没有在用的评议二维码。" in page.extract_text()


def test_a_case_poster_names_the_case():
    [page] = pages(write_posters([Poster(5, CodeKind.case, "价格科", "县发改局", ADDRESS, case_ref="PY2026-00012")]))
    assert "办件编号：PY2026-00012" in page.extract_text() and "对本次办件的服务进行评价，可匿名" in page.extract_text()
