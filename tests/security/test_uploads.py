"""Hostile files on every upload route and import command, on SQLite and
PostgreSQL: an xlsx "zip bomb", XML entity expansion (a DTD anywhere in a part: past
64 KiB of padding, or split between two of the chunks the check reads), a renamed
non-xlsx, a macro-enabled workbook, an upload over the size limit. Each is refused
whole with the exact status and a Chinese message naming the file and what is wrong, no
stack trace, nothing stored.

Then what the importers make of phone numbers written as Excel writes them (numeric
cells, full-width digits, wrong lengths, blanks), and formula-like cells: stored as the
text given, neutralised in every export (report.xlsx).

The hostile files are built here with zipfile from a workbook openpyxl writes.
"""
from __future__ import annotations

import csv
import functools
import html
import io
import random
import re
import zipfile

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, login
from tests.support.online_pool import KINDS, make_round
from tests.security.common import changed, snapshot, workbook
from tests.support.web import text
from tests.support.reports import excel_report
from voting.core.errors import ImportRejected, RowError
from voting.online.models import Evaluator
from voting.lists.models import RoundKind, ServiceObject, Unit
from voting.lists import campaigns, objects, sections
from voting.online import evaluators
from voting.lists.sections import sections_frame
from voting.core.tables import MACRO_REFUSED, SCAN_CHUNK, check_xlsx

OBJECTS_HEADER = ["姓名", "单位(职务)", "手机号码", "事项内容(处罚类案件名称)", "是否处罚对象"]
NOT_XLSX = "不是有效的 xlsx 文件（文件可能已损坏或只是改了扩展名）"
NOT_IMPORTED = "未导入任何数据"
BOMB_SIZE = 200 * 1024 * 1024
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


# ---- building the files -------------------------------------------------------------------



BASE = workbook([OBJECTS_HEADER, ["张三", "某公司", "13812345678", "事项", "否"]])


def rezip(base: bytes, replace: dict[str, bytes | str] = {}, add: dict[str, bytes | str] = {}) -> bytes:  # noqa: B006
    source = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            target.writestr(name, replace.get(name, source.read(name)))
        for name, content in add.items():
            target.writestr(name, content)
    return out.getvalue()


def part(name: str) -> str:
    """A part of BASE as text, the characters a writer may store as references (newer
    openpyxl writes 张三 as &#24352;&#19977;) written out, so that the hostile files
    below can find the cells they change whatever the writer."""
    text = zipfile.ZipFile(io.BytesIO(BASE)).read(name).decode()
    return re.sub(r"&#(\d+);", lambda found: chr(int(found.group(1))) if int(found.group(1)) > 127 else found.group(0),
                  text)


LAUGHS_DTD = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
    + "]>"
)


def laughs_in_sheet() -> bytes:
    sheet = part("xl/worksheets/sheet1.xml").replace("<t>张三</t>", "<t>&lol9;</t>")
    return rezip(BASE, {"xl/worksheets/sheet1.xml": '<?xml version="1.0"?>' + LAUGHS_DTD + sheet})


def laughs_in_shared_strings() -> bytes:
    """The billion laughs in sharedStrings.xml, the sheet's first cell pointing at it."""
    shared = (
        '<?xml version="1.0"?>' + LAUGHS_DTD
        + '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        "<si><t>&lol9;</t></si></sst>"
    )
    sheet = part("xl/worksheets/sheet1.xml").replace(
        '<c r="A2" t="inlineStr"><is><t>张三</t></is></c>', '<c r="A2" t="s"><v>0</v></c>'
    )
    types = part("[Content_Types].xml").replace(
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.sharedStrings+xml"/></Types>',
    )
    rels = part("xl/_rels/workbook.xml.rels").replace(
        "</Relationships>",
        '<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    return rezip(BASE, {"xl/worksheets/sheet1.xml": sheet, "[Content_Types].xml": types,
                        "xl/_rels/workbook.xml.rels": rels}, {"xl/sharedStrings.xml": shared})


@functools.cache
def bomb() -> bytes:
    """A valid xlsx whose sheet is 200 MB of the same row once uncompressed, a few
    hundred KB compressed. Written in chunks: the test never holds the 200 MB."""
    sheet = part("xl/worksheets/sheet1.xml")
    head, tail = sheet.split("</sheetData>")
    head = head.replace('<dimension ref="A1:E2" />', "")
    row = '<row><c t="inlineStr"><is><t>张三</t></is></c><c t="inlineStr"><is><t>13812345678</t></is></c></row>'
    chunk = (row * (1024 * 1024 // len(row.encode()))).encode()
    source = zipfile.ZipFile(io.BytesIO(BASE))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for name in source.namelist():
            if name != "xl/worksheets/sheet1.xml":
                target.writestr(name, source.read(name))
        with target.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as stream:
            stream.write(head.encode())
            written = 0
            while written < BOMB_SIZE:
                stream.write(chunk)
                written += len(chunk)
            stream.write(("</sheetData>" + tail).encode())
    data = out.getvalue()
    declared = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert declared > BOMB_SIZE and len(data) < 1024 * 1024  # what the test claims to build
    return data


def macro_workbook() -> bytes:
    """An .xlsm's insides (vbaProject.bin, the macro-enabled content type)."""
    types = part("[Content_Types].xml").replace(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    ).replace("</Types>", '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')
    return rezip(BASE, {"[Content_Types].xml": types}, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 512})


def lying_sizes() -> bytes:
    """The sheet's local header and central directory entry declare 10 bytes; its
    stream holds the whole sheet (a parser trusting the stream reads more than declared)."""
    data = bytearray(BASE)
    source = zipfile.ZipFile(io.BytesIO(BASE))
    info = source.getinfo("xl/worksheets/sheet1.xml")
    real, fake = info.file_size.to_bytes(4, "little"), (10).to_bytes(4, "little")
    local = info.header_offset + 22  # the local header's uncompressed size
    central = data.index(b"xl/worksheets/sheet1.xml", source.start_dir) - 46 + 24  # the directory entry's
    assert data[local:local + 4] == real and data[central:central + 4] == real
    data[local:local + 4] = fake
    data[central:central + 4] = fake
    return bytes(data)


def padded_text(text: str, at: int) -> str:
    """`text` at byte `at`, after an XML comment of padding. The padding is hex digits,
    which deflate halves at best: a part of over 1 MB compressed 100 times would be
    refused as a zip bomb before anything else was looked for."""
    head, tail = "<!-- ", " -->"
    size = at - len(head) - len(tail)
    return head + random.Random(at).randbytes(size // 2 + 1).hex()[:size] + tail + text


# Past the 64 KiB the check once read of each part; and one straddling two of the
# chunks it reads now, with nothing else to find (an external DTD: no <!ENTITY after it).
PAST_64_KIB = 70_000
EXTERNAL_DTD = '<!DOCTYPE worksheet SYSTEM "http://example.invalid/sheet.dtd">'


def laughs_after_padding() -> bytes:
    sheet = part("xl/worksheets/sheet1.xml").replace("<t>张三</t>", "<t>&lol9;</t>")
    return rezip(BASE, {"xl/worksheets/sheet1.xml": padded_text(LAUGHS_DTD + sheet, PAST_64_KIB)})


def dtd_across_chunks() -> bytes:
    sheet = part("xl/worksheets/sheet1.xml")
    return rezip(BASE, {"xl/worksheets/sheet1.xml": padded_text(EXTERNAL_DTD + sheet, SCAN_CHUNK - 4)})


def macro_type_after_padding() -> bytes:
    """The macro-enabled main content type, 70,000 bytes into [Content_Types].xml (and
    no vbaProject.bin, whose name alone is refused)."""
    types = part("[Content_Types].xml").replace(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    return rezip(BASE, {"[Content_Types].xml": padded_text(types, PAST_64_KIB)})


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        target.writestr("readme.txt", "not a workbook")
    return out.getvalue()


# kind: (file bytes, file name, the reason shown)
HOSTILE = {
    "zip bomb": (bomb, "list.xlsx", "xlsx 文件中的 xl/worksheets/sheet1.xml 压缩比异常（"),
    "billion laughs in the sheet": (laughs_in_sheet, "list.xlsx", "含有 DTD 或实体声明"),
    "billion laughs in sharedStrings": (laughs_in_shared_strings, "list.xlsx", "xl/sharedStrings.xml 含有 DTD 或实体声明"),
    "png renamed .xlsx": (lambda: PNG, "photo.xlsx", NOT_XLSX),
    "text renamed .xlsx": (lambda: "姓名,手机号码\n张三,13812345678\n".encode(), "list.xlsx", NOT_XLSX),
    "zip that is not a workbook": (plain_zip, "list.xlsx", NOT_XLSX),
    "macro-enabled workbook named .xlsx": (macro_workbook, "list.xlsx", MACRO_REFUSED),
    "part with lying sizes": (lying_sizes, "list.xlsx", NOT_XLSX),
    "billion laughs after 64 KiB": (laughs_after_padding, "list.xlsx", "xl/worksheets/sheet1.xml 含有 DTD 或实体声明"),
    "DTD across two chunks of the check": (dtd_across_chunks, "list.xlsx", "xl/worksheets/sheet1.xml 含有 DTD 或实体声明"),
    "macro type after 64 KiB": (macro_type_after_padding, "list.xlsx", MACRO_REFUSED),
}


def test_the_hostile_files_are_what_they_claim():
    """The builders' files: a real zip bomb, real entity declarations, a real macro part."""
    data = bomb()
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/worksheets/sheet1.xml").file_size > BOMB_SIZE
    assert "<!ENTITY lol9" in zipfile.ZipFile(io.BytesIO(laughs_in_sheet())).read("xl/worksheets/sheet1.xml").decode()
    assert "&lol9;" in zipfile.ZipFile(io.BytesIO(laughs_in_shared_strings())).read("xl/sharedStrings.xml").decode()
    assert "xl/vbaProject.bin" in zipfile.ZipFile(io.BytesIO(macro_workbook())).namelist()
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(lying_sizes())).read("xl/worksheets/sheet1.xml")
    sheet = zipfile.ZipFile(io.BytesIO(laughs_after_padding())).read("xl/worksheets/sheet1.xml")
    assert sheet.index(b"<!DOCTYPE") == PAST_64_KIB > 65536 and b"&lol9;" in sheet
    sheet = zipfile.ZipFile(io.BytesIO(dtd_across_chunks())).read("xl/worksheets/sheet1.xml")
    assert sheet.index(b"<!DOCTYPE") < SCAN_CHUNK < sheet.index(b"<!DOCTYPE") + len(b"<!DOCTYPE")
    assert sheet.count(b"<!") == 2  # the comment and the DTD: no <!ENTITY for the next chunk to find
    types = zipfile.ZipFile(io.BytesIO(macro_type_after_padding())).read("[Content_Types].xml")
    assert types.index(b"macroEnabled") > 65536
    assert "xl/vbaProject.bin" not in zipfile.ZipFile(io.BytesIO(macro_type_after_padding())).namelist()


# What the check looks for, in the part where it looks.
MARKERS = [("xl/worksheets/sheet1.xml", "<!DOCTYPE"), ("xl/sharedStrings.xml", "<!ENTITY"),
           ("[Content_Types].xml", "vbaProject"), ("[Content_Types].xml", "macroEnabled"),
           ("[Content_Types].xml", "vnd.ms-excel.intlmacrosheet")]


@pytest.mark.parametrize(("name", "marker"), MARKERS)
def test_a_marker_split_anywhere_between_two_chunks_is_found(name, marker):
    """Every way `marker` can straddle the boundary of the check's chunks, and the
    same padding with nothing to find, which passes (the padding is not what is refused)."""
    base = BASE if name in zipfile.ZipFile(io.BytesIO(BASE)).namelist() else rezip(BASE, add={name: "<sst/>"})
    check_xlsx(rezip(base, {name: padded_text("<!-- nothing here -->", SCAN_CHUNK - 5)}), "list.xlsx")
    for before in range(1, len(marker)):
        data = rezip(base, {name: padded_text(marker, SCAN_CHUNK - before)})
        with pytest.raises(ImportRejected) as refused:
            check_xlsx(data, "list.xlsx")
        reason = refused.value.errors[0].reason
        assert (MACRO_REFUSED if "<!" not in marker else f"xlsx 文件中的 {name} 含有 DTD 或实体声明") in reason, before


# ---- the routes ---------------------------------------------------------------------------

# name: (url, extra form fields)
ROUTES = {
    "sections": ("/office/import/sections", {}),
    "history": ("/office/import/history", {}),
    "objects": ("/office/import/objects", {"round_kind": "H1", "section": "0"}),
    **{f"component {kind}": (f"/office/components/{kind}/import", {})
       for kind in ("votes", "platform", "supervisor", "inspection", "bonus")},
    "representatives": ("/office/online/pool", {}),
    "rating served": ("/office/ratings/figures/served", {"assessment": ""}),
    "rating hotline": ("/office/ratings/figures/hotline", {}),
    "commitments": ("/office/commitments/import/commitments", {}),  # 附件4, county-wide
    "staff contacts": ("/office/commitments/import/staff", {}),  # 附件5, county-wide
}
# name: the command's arguments before/after the file
COMMANDS = {
    "sections": (["import", "sections"], ["--yes"]),
    "history": (["import", "history"], []),
    "objects": (["import", "objects"], ["--round", "H1"]),
    **{f"component {kind}": (["import", "component", kind], [])
       for kind in ("votes", "platform", "supervisor", "inspection", "bonus")},
}


@pytest.fixture
def staff(client, admin, campaign, db):
    assert login(client, "admin", PASSWORD).status_code == 302
    return client


def post_file(client, route: str, data: bytes, filename: str):
    url, fields = ROUTES[route]
    form = {**fields, "file": (io.BytesIO(data), filename)}
    return client.post(url, data=form, content_type="multipart/form-data")


def assert_no_trace(body: str) -> None:
    assert "Traceback" not in body and 'File "' not in body and "Error:" not in body
    assert "Werkzeug" not in body and "Request Entity Too Large" not in body


@pytest.mark.parametrize("route", list(ROUTES))
def test_hostile_files_refused_on_every_upload_route(staff, db, campaign, route):
    """Every hostile file in turn on one route (one app and campaign for them all)."""
    if route == "representatives":
        make_round(db, campaign, sections=1, per_section=3)
    before = snapshot(db)
    for kind, (build, filename, reason) in HOSTILE.items():
        response = post_file(staff, route, build(), filename)
        body = html.unescape(text(response))
        assert response.status_code == 422, (kind, body[:2000])
        assert f"文件 {filename} 有 1 处错误，未导入任何数据。" in body, kind
        assert reason in body, kind
        if kind == "zip bomb":
            assert "倍，上限 100 倍），可能是“压缩炸弹”，拒绝导入" in body
        assert_no_trace(body)
        assert changed(before, snapshot(db)) == [], kind


def test_uncompressed_size_limit_is_configurable(staff, db, campaign, app):
    """A plain 5,000-row list (about 2.4 MB of sheet XML, compressed 13 times) is refused
    under a 1 MB limit, naming both sizes, and accepted under the default limit."""
    section = first_section(db, campaign)
    rows = [[section["unit"], section["section"], f"对象{i}", "某公司", f"138{i:08d}", f"事项{i}", "否"]
            for i in range(5000)]
    data = workbook([MULTI_HEADER, *rows])
    app.config["XLSX_MAX_UNCOMPRESSED"] = 1024 * 1024
    before = snapshot(db)
    response = post_file(staff, "objects", data, "big.xlsx")
    body = html.unescape(text(response))
    assert response.status_code == 422
    assert "文件 big.xlsx 有 1 处错误，未导入任何数据。" in body
    assert "xlsx 文件解压后共 2 MB，超过 1 MB 的上限（可能是“压缩炸弹”），拒绝导入" in body
    assert changed(before, snapshot(db)) == []
    app.config["XLSX_MAX_UNCOMPRESSED"] = 256 * 1024 * 1024
    app.config["DEFAULT_CAMPAIGN_YEAR"] = campaign.year
    rows = rows[:500]  # the per-section cap
    response = post_file(staff, "objects", workbook([MULTI_HEADER, *rows]), "ok.xlsx")
    assert response.status_code == 302
    assert len(db.scalars(select(ServiceObject.id)).all()) == 500


@pytest.mark.parametrize("route", list(ROUTES))
def test_xlsm_upload_refused_by_the_form(staff, db, campaign, route):
    if route == "representatives":
        make_round(db, campaign, sections=1, per_section=3)
    before = snapshot(db)
    response = post_file(staff, route, macro_workbook(), "list.xlsm")
    body = html.unescape(text(response))
    assert response.status_code == 400
    assert "只接受 .xlsx 或 .csv 文件" in body
    assert_no_trace(body)
    assert changed(before, snapshot(db)) == []


@pytest.mark.parametrize("route", list(ROUTES))
def test_upload_over_the_size_limit_is_413_with_a_chinese_page(staff, db, campaign, app, route):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 32 * 1024 * 1024  # the configured default, not a test's override
    before = snapshot(db)
    response = post_file(staff, route, b"0" * (limit + 1), "big.csv")
    body = text(response)
    assert response.status_code == 413
    assert "内容太大" in body and "上传的文件太大或提交的内容太长，超过大小上限：文件请拆分后再上传，文字请删减后再提交。" in body
    assert_no_trace(body)
    assert changed(before, snapshot(db)) == []


@pytest.mark.parametrize("command", list(COMMANDS))
def test_hostile_files_refused_by_every_import_command(runner, db, campaign, tmp_path, command):
    before_args, after_args = COMMANDS[command]
    before = snapshot(db)
    cases = {**HOSTILE, "xlsm": (macro_workbook, "list.xlsm", MACRO_REFUSED)}
    for kind, (build, filename, reason) in cases.items():
        path = tmp_path / filename
        path.write_bytes(build())
        result = runner.invoke(args=[*before_args, str(path), *after_args])
        assert result.exit_code == 1, (kind, result.output)
        assert f"错误：文件 {filename} 有 1 处错误，未导入任何数据。" in result.output, kind
        lines = result.output.splitlines()
        assert any(line.startswith("  文件：") and reason in line for line in lines), (kind, result.output)
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit), kind
        # `import objects` runs a background job here: its row records the refusal.
        assert changed(before, snapshot(db)) == (["job"] if command == "objects" else []), kind


# ---- phone numbers as offices' files carry them ----------------------------------------------

MULTI_HEADER = ["单位名称", "科室", *OBJECTS_HEADER]
PHONE_COLUMN = "E 列（手机号码）"  # in MULTI_HEADER


def first_section(db, campaign) -> dict:
    return sections_frame(db, campaign).iloc[0].to_dict()


def objects_file(section: dict, phones: list, fmt: str = "xlsx") -> bytes:
    """One row per phone; in xlsx an int or float stays a numeric cell."""
    rows = [[section["unit"], section["section"], f"对象{i}", "某公司", phone, f"事项{i}", "否"]
            for i, phone in enumerate(phones)]
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows([MULTI_HEADER, *rows])
        return buffer.getvalue().encode()
    book = openpyxl.Workbook()
    book.active.append(MULTI_HEADER)
    for row in rows:
        book.active.append([None if v == "" else v for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_numeric_and_full_width_phones_are_normalised(db, campaign):
    section = first_section(db, campaign)
    data = objects_file(section, [13812345678, 13912345678.0, "１５０１２３４５６７８", "18612345678.0", "+86 199-1234-5678"])
    objects.import_objects(db, campaign, RoundKind.H1, data, "phones.xlsx")
    db.commit()
    phones = db.scalars(select(ServiceObject.phone).order_by(ServiceObject.source_row)).all()
    assert phones == ["13812345678", "13912345678", "15012345678", "18612345678", "19912345678"]


def test_csv_phone_written_as_a_float_is_normalised(db, campaign):
    section = first_section(db, campaign)
    objects.import_objects(db, campaign, RoundKind.H1, objects_file(section, ["13812345678.0"], "csv"), "p.csv")
    db.commit()
    assert db.scalars(select(ServiceObject.phone)).all() == ["13812345678"]


# Each refused value, and the reason the import gives on its row (column E).
BAD_PHONES = [
    (1381234567, "“138***4567”手机号码应为 11 位，实为 10 位"),  # numeric cell, 10 digits
    (138123456789, "“138*****6789”手机号码应为 11 位，实为 12 位"),  # numeric cell, 12 digits
    ("1.38E+10", "“1.38E+10”手机号码含有非数字字符"),  # digits lost to scientific notation
    ("1.3812345678e10", "“1.38******78e10”手机号码含有非数字字符"),  # masked in the message
    (13812345678.5, "“138*****678.5”手机号码应为 11 位，实为 12 位"),  # the dot read as a separator
    ("１３８１２３４５６７", "“138***4567”手机号码应为 11 位，实为 10 位"),  # full-width, 10 digits (shown NFKC)
    ("", "手机号码为空"),
]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_ambiguous_phones_refused_with_row_and_column_nothing_stored(db, campaign, fmt):
    section = first_section(db, campaign)
    values = [13812345678, *(v for v, _ in BAD_PHONES)]  # a good row first: still nothing stored
    if fmt == "csv":
        values = [str(v) for v in values]
    before = snapshot(db)
    with pytest.raises(ImportRejected) as caught:
        objects.import_objects(db, campaign, RoundKind.H1, objects_file(section, values, fmt), f"p.{fmt}")
    db.rollback()
    expected = [RowError(3 + i, PHONE_COLUMN, reason) for i, (_, reason) in enumerate(BAD_PHONES)]
    assert caught.value.errors == expected
    assert str(caught.value) == f"文件 p.{fmt} 有 {len(BAD_PHONES)} 处错误，读取 {len(values)} 行，其中 {len(BAD_PHONES)} 行有错误；未导入任何数据。"
    assert changed(before, snapshot(db)) == []


def test_ambiguous_phones_refused_on_the_web_page_and_by_the_command(staff, db, campaign, runner, tmp_path):
    section = first_section(db, campaign)
    data = objects_file(section, [13812345678, "1.38E+10", 1381234567])
    before = snapshot(db)
    response = post_file(staff, "objects", data, "phones.xlsx")
    body = html.unescape(text(response))
    assert response.status_code == 422
    assert "文件 phones.xlsx 有 2 处错误，读取 3 行，其中 2 行有错误；未导入任何数据。" in body
    assert "“1.38E+10”手机号码含有非数字字符" in body and "“138***4567”手机号码应为 11 位，实为 10 位" in body
    assert PHONE_COLUMN in body and "13812345678" not in body  # phones shown masked only
    assert_no_trace(body)
    path = tmp_path / "phones.xlsx"
    path.write_bytes(data)
    result = runner.invoke(args=["import", "objects", str(path), "--round", "H1"])
    assert result.exit_code == 1
    assert f"第 3 行，{PHONE_COLUMN}：“1.38E+10”手机号码含有非数字字符" in result.output
    assert f"第 4 行，{PHONE_COLUMN}：“138***4567”手机号码应为 11 位，实为 10 位" in result.output
    assert changed(before, snapshot(db)) == ["job"]  # the command's job, failed: nothing stored


def test_representatives_phones_normalised_or_refused_with_row_and_column(db, campaign):
    online = make_round(db, campaign, sections=1, per_section=3)
    good = [["代表甲", KINDS[0], 14700000010], ["代表乙", KINDS[1], "１４７００００００１１"], ["代表丙", KINDS[2], 14700000012.0]]
    book = openpyxl.Workbook()
    for row in [["姓名", "类别", "手机号码"], *good]:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    evaluators.import_representatives(db, online, buffer.getvalue(), "reps.xlsx")
    db.commit()
    stored = db.scalars(select(Evaluator.phone).where(Evaluator.name.like("代表%")).order_by(Evaluator.source_row)).all()
    assert stored == ["14700000010", "14700000011", "14700000012"]

    bad = [["代表丁", KINDS[0], 1470000001], ["代表戊", KINDS[0], "1.47E+10"], ["代表己", KINDS[0], None]]
    book = openpyxl.Workbook()
    for row in [["姓名", "类别", "手机号码"], *bad]:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    before = snapshot(db)
    with pytest.raises(ImportRejected) as caught:
        evaluators.import_representatives(db, online, buffer.getvalue(), "reps2.xlsx")
    db.rollback()
    assert caught.value.errors == [
        RowError(2, "C 列（手机号码）", "“147***0001”手机号码应为 11 位，实为 10 位"),
        RowError(3, "C 列（手机号码）", "“1.47E+10”手机号码含有非数字字符"),
        RowError(4, "C 列（手机号码）", "手机号码为空"),
    ]
    assert changed(before, snapshot(db)) == []


# ---- formula injection ----------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example/x","点我")', "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1+2", "\r=1+3"]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def test_formula_cells_stored_as_text_and_neutralised_in_the_report(staff, db, app):
    """A campaign whose section list, service objects and bonus matters carry formula-like
    text: stored as the (stripped) text given; report.xlsx shows them as inert text."""
    year = campaigns.create_campaign(db, 2031)
    rows = [[f"{f}局", f"{f}科"] for f in FORMULAS] + [["县财政局", "预算科"]]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["单位名称", "科室"], *rows])
    listed = sections.parse_sections(buffer.getvalue().encode(), "sections.csv")
    sections.apply_sections(db, year, listed)
    db.commit()
    app.config["DEFAULT_CAMPAIGN_YEAR"] = 2031
    stored_units = set(db.scalars(select(Unit.name).where(Unit.campaign_id == year.id)))
    assert stored_units == {f"{f}局".strip() for f in FORMULAS} | {"县财政局"}

    objects_rows = [[f"{f}局".strip(), f"{f}科".strip(), f, f, f"1381234567{i}", f, "否"] for i, f in enumerate(FORMULAS)]
    data = workbook([MULTI_HEADER, *objects_rows])
    response = post_file(staff, "objects", data, "objects.xlsx")
    assert response.status_code == 302, html.unescape(text(response))[:3000]
    got = db.execute(select(ServiceObject.name, ServiceObject.org_title, ServiceObject.matter)
                     .order_by(ServiceObject.source_row)).all()
    assert [tuple(r) for r in got] == [(f.strip(),) * 3 for f in FORMULAS]

    response = excel_report(staff)
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    texts = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                assert cell.data_type in ("s", "n"), (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(DANGEROUS), (sheet.title, cell.coordinate, cell.value)
                    texts.append(cell.value)
    for f in FORMULAS:
        assert "'" + f"{f}局".strip() in texts  # the unit's name, quoted
