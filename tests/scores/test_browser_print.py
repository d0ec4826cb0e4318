"""Printing, in headless Chromium: each list that goes to the leaders printed to PDF
(page.pdf(), Chromium's own print path) and the PDF's text read back with pypdf: A4,
title, issuing office, the sections, the signature lines, the header row on every
page and the page number in each page's footer. A score page printed with the print
stylesheet: no navigation, the table whole and bordered. The documents themselves,
their figures and who may open them: tests/scores/test_print.py."""
from __future__ import annotations

import html
import io
import re

import pytest

from scoring import columns as C
from tests.support.browser import log_in, new_page, shot
from tests.conftest import PASSWORD, missing

try:
    import pypdf  # the test extras
except ImportError:  # skipped on a user's machine, a failure in CI (tests.conftest.missing)
    pypdf = None

pytestmark = pytest.mark.browser

OFFICE = "平阳县千人评议办"
SIGNATURES = ("制表人：________", "审核人：________", "评议办负责人（签字）：________", "日期：________")
A4_POINTS = (595.3, 841.9)
SEPARATOR = "|"


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True, "OFFICE_NAME": OFFICE}


BUNDLE_SEED = 5  # the example year (tests/conftest.py bundle_dir)


@pytest.fixture
def scored(year, offline_year):
    """The example year loaded, as the offline scoring scores it."""
    return offline_year


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)  # a long title or name wraps anywhere


def pdf_pages(page) -> list[tuple[tuple[float, float], str]]:
    """The page printed to PDF as Chromium prints it (the page's own @page size):
    each PDF page's size in points and its text, without white space."""
    if pypdf is None:
        missing("the pypdf package is not installed (pip install -e .[test])")
    data = page.pdf(prefer_css_page_size=True)
    assert data.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [((float(p.mediabox.width), float(p.mediabox.height)), compact(p.extract_text())) for p in reader.pages]


def as_printed(page, texts: list[str], selector: str) -> dict[str, str]:
    """Each text as the PDF's text layer gives it back when set in the type of the
    page's `selector`.

    Chromium's PDF names each glyph by the lowest code point the font maps to it, and
    the CJK fonts share glyphs: 人 comes back as the radical ⼈ (U+2F08), 页 as ⻚,
    户 as 戶. What a reader sees is right; the extracted text is not. So the expected
    texts take the same way: printed in the same font, read back the same way."""
    family = page.eval_on_selector(selector, "el => getComputedStyle(el).fontFamily")
    probe = page.context.new_page()
    try:
        body = SEPARATOR + SEPARATOR.join(html.escape(t) for t in texts) + SEPARATOR
        probe.set_content(f'<!doctype html><html lang="zh-CN"><body style="font-family: {html.escape(family)}">'
                          f"<p>{body}</p></body></html>")
        printed = "".join(text for _, text in pdf_pages(probe)).strip(SEPARATOR).split(SEPARATOR)
    finally:
        probe.close()
    assert len(printed) == len(texts)
    return dict(zip(texts, printed))


def names(frame) -> list[str]:
    """A few sections of a list: its first, middle and last; units and sections."""
    picks = [frame.iloc[0], frame.iloc[len(frame) // 2], frame.iloc[-1]]
    return [compact(s) for r in picks for s in (r[C.UNIT], r[C.SECTION])]


def check_document(page, title: str, sections: list[str], headings: list[str]) -> list[str]:
    """What every printed document has: A4, its title, office, provenance, the list
    headings and sections, the signatures last, on every page the list's heading with
    the header row and the page number. Returns each page's text."""
    page.emulate_media(media="print")
    assert not page.locator(".toolbar").is_visible()
    pages = pdf_pages(page)
    n = len(pages)
    texts = [f"制表单位：{OFFICE}", "制表日期：", "本表根据千人评议平台", "审计日志第", *SIGNATURES,
             "序号", *sections, *headings, *(f"第{k}页，共{n}页" for k in range(1, n + 1))]
    printed = as_printed(page, texts, "table.list td")
    printed.update(as_printed(page, [title], "h1"))
    text = "".join(t for _, t in pages)
    for size, _ in pages:
        assert size == pytest.approx(A4_POINTS, abs=1), size
    for expected in (title, *texts[:-n]):
        assert printed[expected] in text, expected
    # The signatures come last, on the last page.
    assert all(printed[line] in pages[-1][1] for line in SIGNATURES)
    assert text.endswith(printed[SIGNATURES[-1]])
    for number, (_, page_text) in enumerate(pages, start=1):
        assert printed[f"第{number}页，共{n}页"] in page_text, number  # the footer
        # The list's name and the header row, repeated on every page: a page on its own
        # still says which list it is.
        assert any(printed[h] + printed["序号"] in page_text for h in headings), number
    # Nothing of the screen's toolbar.
    assert "←" not in text
    return [t for _, t in pages]


def open_document(page, score_page: str, document: str) -> None:
    log_in(page, "admin", PASSWORD)
    page.goto(score_page)
    with page.expect_navigation():
        page.click("p.print-link a")
    assert page.url.endswith(document)


def test_the_shortlist_prints(page, admin, scored):
    open_document(page, "/office/scores/shortlist", "/office/scores/print/shortlist")
    title = "2021年度千人评机关中层科室活动候选名单"
    assert page.locator("h1").inner_text() == title
    shot(page, "print-shortlist")
    by_rank = scored.sort_values(C.DAILY_RANK, kind="stable")
    lists = {code: by_rank[by_rank[C.SHORTLIST] == code] for code in
             (C.PREVIOUS_UNSATISFIED, C.SATISFIED_CANDIDATE, C.UNSATISFIED_CANDIDATE)}
    headings = [f"上年不满意单位（{len(lists[C.PREVIOUS_UNSATISFIED])}个）", f"满意候选（{len(lists[C.SATISFIED_CANDIDATE])}个）",
                f"不满意候选（{len(lists[C.UNSATISFIED_CANDIDATE])}个）"]
    pages = check_document(page, title, names(lists[C.SATISFIED_CANDIDATE]) + names(lists[C.UNSATISFIED_CANDIDATE]),
                           headings)
    assert len(pages) >= 3  # 110 rows at 10.5 pt


def test_the_final_lists_print(page, admin, scored):
    open_document(page, "/office/scores/final", "/office/scores/print/final")
    shot(page, "print-final")
    by_total = scored.sort_values(C.TOTAL_RANK, kind="stable")
    lists = {code: by_total[by_total[C.RESULT] == code] for code in (C.SATISFIED, C.UNSATISFIED, C.MOST_UNSATISFIED)}
    sections = [name for frame in lists.values() for name in names(frame)]
    headings = [f"满意单位（{len(lists[C.SATISFIED])}个）", f"不满意单位（{len(lists[C.UNSATISFIED])}个）",
                f"最不满意单位（{len(lists[C.MOST_UNSATISFIED])}个）"]
    check_document(page, "2021年度千人评机关中层科室活动拟定满意单位、不满意单位和最不满意单位名单", sections, headings)


def test_the_unit_effects_print(page, admin, scored):
    open_document(page, "/office/scores/units", "/office/scores/print/units")
    shot(page, "print-units")
    listed = scored[scored[C.RESULT].isin([C.SATISFIED, C.UNSATISFIED, C.MOST_UNSATISFIED])]
    units = list(dict.fromkeys(scored[C.UNIT]))
    sections = [compact(s) for s in listed[C.SECTION].iloc[:5]] + [compact(units[0]), compact(units[-1]),
                                                                    "满意单位科室", "考绩加减分"]
    heading = compact(page.locator("tr.group th").inner_text())
    assert heading.startswith(f"各单位考绩（{len(units)}个单位")
    check_document(page, "2021年度千人评机关中层科室活动单位考绩表", sections, [heading])


def test_a_document_reads_on_a_phone(browser, live_server, admin, scored):
    phone = new_page(browser, live_server, width=360, height=640)
    try:
        log_in(phone, "admin", PASSWORD)
        phone.goto("/office/scores/print/final")
        assert phone.locator("#print-button").is_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # the table scrolls in its sheet
    finally:
        phone.context.close()


def test_a_score_page_prints_without_its_navigation(page, admin, scored):
    log_in(page, "admin", PASSWORD)
    page.goto("/office/scores/")
    screen_only = ("header.top", "header.top nav", ".subnav", "form.who button")
    for selector in screen_only:  # on screen: the navigation, the logout button
        assert page.locator(selector).first.is_visible(), selector

    page.emulate_media(media="print")
    for selector in screen_only:
        assert not page.locator(selector).first.is_visible(), selector
    assert page.locator("table.sortable").is_visible()
    assert page.locator("figure.chart svg").first.is_visible()  # the chart kept
    style = page.evaluate("""() => {
        const table = document.querySelector('table.sortable');
        const cell = table.querySelector('tbody td');
        const css = (el) => getComputedStyle(el);
        return {
            table: table.getBoundingClientRect().width,
            main: document.querySelector('main').getBoundingClientRect().width,
            thead: css(table.querySelector('thead')).display,
            row: css(table.querySelector('tbody tr')).breakInside,
            border: css(cell).borderTopStyle, borderWidth: parseFloat(css(cell).borderTopWidth),
            size: css(cell).fontSize, link: css(table.querySelector('tbody a')).textDecorationLine,
            box: css(document.querySelector('.table-box')).overflowX,
        };
    }""")
    assert style["table"] == pytest.approx(style["main"], abs=1)  # the full width
    assert style["thead"] == "table-header-group" and style["row"] == "avoid"
    assert style["border"] == "solid" and style["borderWidth"] > 0
    assert style["size"] == "14px"  # 10.5 pt
    assert style["link"] == "none" and style["box"] == "visible"

    pages = pdf_pages(page)
    n = len(pages)
    best = scored[~scored[C.EXEMPT].astype(bool)].sort_values(C.DAILY_RANK).iloc[0]
    printed = as_printed(page, ["退出", "下载Excel报告", "日常评价", compact(best[C.SECTION]),
                                *(f"第{k}页，共{n}页" for k in range(1, n + 1))], "table.sortable td")
    text = "".join(t for _, t in pages)
    assert printed["退出"] not in text and printed["下载Excel报告"] not in text  # no logout, no sub-navigation
    assert printed[compact(best[C.SECTION])] in text
    for k, (size, page_text) in enumerate(pages, start=1):
        assert size == pytest.approx(A4_POINTS, abs=1)
        assert printed[f"第{k}页，共{n}页"] in page_text
        assert printed["日常评价"] in page_text  # the header row on every page
