"""Service-object lists (服务对象名单, docs/rules.md §3): the import service, the upload pages and
the `pingyi import objects` command, on SQLite and PostgreSQL.

Expected values are computed from the files the tests build: a file's row numbers are
its own (header on row 1 → first data row is row 2), columns are named by letter and
header as the office sees them in Excel.
"""
from __future__ import annotations

import csv
import io
import re

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from sms.phones import PhoneError, mask_phone, normalize_phone
from voting.core.errors import DomainError, ImportRejected
from voting.lists.models import ObjectImport, RoundKind, Section, SectionList, ServiceObject, Unit
from voting.staff.models import Role
from voting.lists import history, objects
from voting.staff import users
from voting.lists.sections import sections_frame

from tests.conftest import PASSWORD, csv_bytes, login, xlsx_bytes

MULTI_HEADER = ["单位名称", "科室", "姓名", "单位(职务)", "手机号码", "事项内容(处罚类案件名称)", "是否处罚对象"]
SINGLE_HEADER = MULTI_HEADER[2:]
PREFIXES = ("138", "139", "150", "186", "199")


# ---- helpers ---------------------------------------------------------------------------

def phone(i: int, prefix: str = "138") -> str:
    """The i-th distinct valid mainland mobile number of a prefix."""
    return f"{prefix}{i:08d}"


def table_bytes(header: list[str], rows: list[list], fmt: str = "xlsx", title_rows: list[list] = ()) -> bytes:
    """A file with optional title rows above the header. In xlsx, ints stay numeric
    cells and strings (also those starting with "=") stay text cells."""
    lines = [*title_rows, header, *rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for line in lines:
            writer.writerow(["" if v is None else v for v in line])
        return buffer.getvalue().encode("utf-8")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for r, line in enumerate(lines, start=1):
        for c, value in enumerate(line, start=1):
            if value is None or value == "":
                continue
            cell = sheet.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, even when it looks like a formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def column_of(header: list[str], name: str) -> str:
    """How an error names a column: "E 列(手机号码)"."""
    return f"{get_column_letter(header.index(name) + 1)} 列（{name}）"


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def stored(db, section_id: int, round_kind: RoundKind = RoundKind.H1) -> list[ServiceObject]:
    return db.scalars(
        select(ServiceObject)
        .where(ServiceObject.section_id == section_id, ServiceObject.round == round_kind)
        .order_by(ServiceObject.source_row)
    ).all()


def section_list(db, section_id: int, round_kind: RoundKind = RoundKind.H1) -> SectionList | None:
    return db.scalar(
        select(SectionList).where(SectionList.section_id == section_id, SectionList.round == round_kind)
    )


@pytest.fixture
def places(db, campaign):
    """Sections of the campaign: two of one unit (a1, a2), one of another (b1), and
    the unit rows, all as dicts of sections_frame."""
    frame = sections_frame(db, campaign)
    sizes = frame.groupby("unit_id", sort=False).size()
    unit_ids = [u for u in sizes.index if sizes[u] >= 2][:2]
    a = frame[frame["unit_id"] == unit_ids[0]].to_dict("records")
    b = frame[frame["unit_id"] == unit_ids[1]].to_dict("records")
    return {"a1": a[0], "a2": a[1], "b1": b[0], "frame": frame}


def label(place: dict) -> str:
    return f"{place['unit']} {place['section']}"


def make_exempt(db, campaign, place: dict) -> None:
    """满意单位 in both years before the campaign: exempt (免评)."""
    rows = [[year, place["unit"], place["section"], "满意单位"] for year in (campaign.year - 2, campaign.year - 1)]
    data = table_bytes(["年度", "单位名称", "科室", "结果"], rows, "csv")
    history.import_history(db, campaign, data, "history.csv")
    db.commit()


def set_enforcement(db, section_id: int) -> None:
    db.get(Section, section_id).is_enforcement = True
    db.commit()


def run_import(db, campaign, data: bytes, filename: str, round_kind=RoundKind.H1, **kwargs):
    summary = objects.import_objects(db, campaign, round_kind, data, filename, **kwargs)
    db.commit()
    return summary


def rejected(db, campaign, data: bytes, filename: str, round_kind=RoundKind.H1, **kwargs) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        objects.import_objects(db, campaign, round_kind, data, filename, **kwargs)
    return caught.value


# ---- storing ------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_single_section_file_stored_with_phones_normalised(db, campaign, places, fmt):
    section = places["a1"]
    numbers = ["13812345678", "13912345678", "15012345678", "18612345678", "19912345678", "13887654321"]
    written = [
        "+86 138-1234-5678",
        "139 1234 5678",
        "".join(chr(ord(d) + 0xFEE0) for d in "15012345678"),  # full-width digits
        int(numbers[3]) if fmt == "xlsx" else numbers[3],  # a numeric cell
        "0086 199 1234 5678",
        "138.8765.4321",
    ]
    penalties = ["是", "否", "", "Y", "√", "否"]
    rows = [
        [f"姓名{i}", f"单位{i}（职务{i}）", w, f"事项{i}", p] for i, (w, p) in enumerate(zip(written, penalties))
    ]
    summary = run_import(db, campaign, table_bytes(SINGLE_HEADER, rows, fmt), f"list.{fmt}", section_id=section["id"])

    assert summary.rows_read == len(rows)
    assert summary.stored == len(rows)
    assert summary.duplicates == []
    got = stored(db, section["id"])
    assert [o.phone for o in got] == numbers
    assert all(re.fullmatch(r"1[3-9]\d{9}", o.phone) for o in got)
    assert [o.name for o in got] == [r[0] for r in rows]
    assert [o.org_title for o in got] == [r[1] for r in rows]
    assert [o.matter for o in got] == [r[3] for r in rows]
    assert [o.penalized for o in got] == [p in ("是", "Y", "√") for p in penalties]
    assert [o.source_row for o in got] == list(range(2, 2 + len(rows)))
    assert {o.import_id for o in got} == {summary.import_id}

    upload = db.get(ObjectImport, summary.import_id)
    assert (upload.rows_read, upload.stored, upload.duplicates, upload.round) == (len(rows), len(rows), 0, RoundKind.H1)
    listed = section_list(db, section["id"])
    assert listed.objects == len(rows)
    assert listed.penalized == sum(p in ("是", "Y", "√") for p in penalties)
    assert listed.import_id == summary.import_id
    assert count(db, ServiceObject) == len(rows)
    assert count(db, SectionList) == 1


def test_numeric_xlsx_cells_via_pandas(db, campaign, places):
    """A phone column Excel holds as numbers (int and float cells) is read as digits."""
    section = places["a2"]
    numbers = [13812340000 + i for i in range(3)] + [18600001111]
    frame = pd.DataFrame({
        "姓名": ["甲", "乙", "丙", "丁"],
        "手机号码": pd.Series(numbers[:3] + [float(numbers[3])], dtype=object),
        "事项内容": ["办证"] * 4,
    })
    run_import(db, campaign, xlsx_bytes(frame), "numbers.xlsx", section_id=section["id"])
    assert [o.phone for o in stored(db, section["id"])] == [str(n) for n in numbers]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_multi_section_file_stored_by_unit_and_section(db, campaign, places, fmt):
    a1, a2, b1 = places["a1"], places["a2"], places["b1"]
    # Names as offices write them: stray spaces, full-width brackets.
    messy = {
        a1["id"]: (f" {a1['unit']} ", a1["section"].replace("(", "（").replace(")", "）")),
        a2["id"]: (a2["unit"][0] + " " + a2["unit"][1:], f"{a2['section']} "),
        b1["id"]: (b1["unit"], b1["section"]),
    }
    plan = {a1["id"]: 3, a2["id"]: 2, b1["id"]: 4}
    rows, expected = [], {sid: [] for sid in plan}
    i = 0
    for sid, n in plan.items():
        for _ in range(n):
            unit, sec = messy[sid]
            number = phone(i, PREFIXES[i % len(PREFIXES)])
            rows.append([unit, sec, f"人{i}", "", number, f"事项{i}", "否"])
            expected[sid].append((number, i + 2))
            i += 1
    summary = run_import(db, campaign, table_bytes(MULTI_HEADER, rows, fmt), f"all.{fmt}")

    assert summary.rows_read == len(rows) == summary.stored
    assert {s.section_id: s.objects for s in summary.sections} == plan
    for sid, want in expected.items():
        assert [(o.phone, o.source_row) for o in stored(db, sid)] == want
        assert section_list(db, sid).objects == len(want)
    assert count(db, ServiceObject) == len(rows)
    assert count(db, ObjectImport) == 1


def test_single_section_file_may_name_its_own_section(db, campaign, places):
    """Section columns in a single-section file are checked against the chosen
    section: matching rows (also with the unit left out) pass, others are errors."""
    a1, a2 = places["a1"], places["a2"]
    header = ["科室", *SINGLE_HEADER]
    good = [[a1["section"], "甲", "", phone(1), "事项", "否"], [a1["section"], "乙", "", phone(2), "事项", "否"]]
    run_import(db, campaign, table_bytes(header, good), "own.xlsx", section_id=a1["id"])
    assert [o.phone for o in stored(db, a1["id"])] == [phone(1), phone(2)]

    bad = [*good, [a2["section"], "丙", "", phone(3), "事项", "否"]]
    error = rejected(db, campaign, table_bytes(header, bad), "other.xlsx", section_id=a1["id"])
    assert [(e.row, e.column) for e in error.errors] == [(len(bad) + 1, column_of(header, "科室"))]
    assert "不符" in error.errors[0].reason


def test_section_outside_the_campaign_is_a_domain_error(db, campaign):
    data = table_bytes(SINGLE_HEADER, [["甲", "", phone(1), "事项", "否"]])
    with pytest.raises(DomainError, match="不属于本次评议活动"):
        objects.import_objects(db, campaign, RoundKind.H1, data, "x.xlsx", section_id=10**9)
    assert count(db, ServiceObject) == count(db, ObjectImport) == 0


def test_multi_section_mode_needs_section_columns(db, campaign):
    data = table_bytes(SINGLE_HEADER, [["甲", "", phone(1), "事项", "否"]])
    error = rejected(db, campaign, data, "x.xlsx")
    assert len(error.errors) == 1 and "单位名称" in error.errors[0].reason
    assert count(db, ServiceObject) == count(db, ObjectImport) == 0


@pytest.mark.parametrize("section_chosen", [True, False])
def test_file_without_data_rows_is_rejected(db, campaign, places, section_chosen):
    header = SINGLE_HEADER if section_chosen else MULTI_HEADER
    kwargs = {"section_id": places["a1"]["id"]} if section_chosen else {}
    error = rejected(db, campaign, table_bytes(header, []), "empty.xlsx", **kwargs)
    assert [e.row for e in error.errors] == [0]
    assert "没有任何服务对象" in error.errors[0].reason
    assert count(db, ServiceObject) == count(db, ObjectImport) == 0


# ---- bad rows -----------------------------------------------------------------------------

def bad_rows_case(places, exempt_place, fmt):
    """(rows, expected errors as (data index, column header, reason fragment))."""
    a1, b1 = places["a1"], places["b1"]

    def row(name="张三", number=None, matter="办理许可", penalized="否", place=a1, org="某公司 经理"):
        return [place["unit"], place["section"], name, org, number, matter, penalized]

    cases = [
        (row(number=phone(0)), None),
        (row(number="1381234567"), ("手机号码", "10 位")),
        (row(number="138123456789"), ("手机号码", "12 位")),
        (row(number="1.38e10"), ("手机号码", "非数字")),
        (row(number="138abcd5678"), ("手机号码", "非数字")),
        (row(number=""), ("手机号码", "为空")),
        (row(number="12345678901"), ("手机号码", "不是大陆手机号码")),
        (row(number="14012345678"), ("手机号码", "未分配")),
        (row(name="", number=phone(1)), ("姓名", "姓名为空")),
        (row(matter="", number=phone(2)), ("事项内容(处罚类案件名称)", "事项内容为空")),
        (row(penalized="可能", number=phone(3)), ("是否处罚对象", "“可能”无效")),
        (row(place={"unit": a1["unit"], "section": "并不存在的科"}, number=phone(4)), ("科室", "不在参评科室名单中")),
        (row(place={"unit": "并不存在的局", "section": a1["section"]}, number=phone(5)), ("科室", "不在参评科室名单中")),
        (row(place=exempt_place, number=phone(6)), ("科室", "免评")),
        (row(place={"unit": "", "section": a1["section"]}, number=phone(7)), ("单位名称", "单位名称为空")),
        (row(place={"unit": a1["unit"], "section": ""}, number=phone(8)), ("科室", "科室为空")),
        (row(name="名" * 51, number=phone(9)), ("姓名", "超过 50 字")),
        (row(org="职" * 201, number=phone(10)), ("单位(职务)", "超过 200 字")),
        (row(matter="事" * 501, number=phone(11)), ("事项内容(处罚类案件名称)", "超过 500 字")),
        (row(name="名" * 50, org="职" * 200, matter="事" * 500, number=phone(12)), None),  # at the limits
        (row(number=phone(13), place=b1), None),
    ]
    if fmt == "csv":  # xlsx cannot hold control characters at all
        cases += [
            (row(name="张\x01三", number=phone(14)), ("姓名", "控制字符")),
            (row(org="公司\x1b", number=phone(15)), ("单位(职务)", "控制字符")),
            (row(matter="事\x7f项", number=phone(16)), ("事项内容(处罚类案件名称)", "控制字符")),
        ]
    # One row with two bad cells: both are listed.
    cases.append((row(name="", number="1381234"), ("姓名", "姓名为空")))
    cases.append((None, ("手机号码", "7 位")))  # same row as the one above
    rows, expected = [], []
    for line, problem in cases:
        if line is not None:
            rows.append(line)
        if problem is not None:
            expected.append((len(rows) - 1, *problem))
    return rows, expected


@pytest.mark.parametrize("fmt,title_rows", [
    ("xlsx", []),
    ("csv", []),
    ("xlsx", [["2021年度平阳县千人评议服务对象名单"], [], ["填报单位：", "", "日期：2021-06-30"]]),
    ("csv", [["服务对象名单"], ["（盖章）"]]),
])
def test_every_bad_row_listed_with_file_row_and_column(db, campaign, places, fmt, title_rows):
    exempt_place = places["frame"].to_dict("records")[-1]
    make_exempt(db, campaign, exempt_place)
    rows, expected = bad_rows_case(places, exempt_place, fmt)
    header_row = len(title_rows) + 1
    error = rejected(db, campaign, table_bytes(MULTI_HEADER, rows, fmt, title_rows), f"bad.{fmt}")

    want = sorted((index + header_row + 1, column_of(MULTI_HEADER, col)) for index, col, _ in expected)
    assert sorted((e.row, e.column) for e in error.errors) == want
    for index, col, fragment in expected:
        matching = [e for e in error.errors if e.row == index + header_row + 1 and e.column == column_of(MULTI_HEADER, col)]
        assert len(matching) == 1 and fragment in matching[0].reason, (index, col, fragment, matching)
        assert str(matching[0]).startswith(f"第 {index + header_row + 1} 行，{column_of(MULTI_HEADER, col)}：")
    assert str(len(expected)) in str(error)
    # Nothing of it is stored, not even flushed into the open transaction.
    assert count(db, ServiceObject) == 0
    assert count(db, ObjectImport) == 0
    assert count(db, SectionList) == 0


def test_rejected_file_leaves_the_stored_list_intact(db, campaign, places):
    section = places["a1"]
    good = [[f"人{i}", "", phone(i), "事项", "否"] for i in range(5)]
    first = run_import(db, campaign, table_bytes(SINGLE_HEADER, good), "good.xlsx", section_id=section["id"])
    before = [(o.id, o.phone, o.import_id) for o in stored(db, section["id"])]

    bad = [[f"新{i}", "", phone(100 + i), "事项", "否"] for i in range(8)] + [["坏", "", "1380000", "事项", "否"]]
    error = rejected(db, campaign, table_bytes(SINGLE_HEADER, bad), "bad.xlsx", section_id=section["id"])
    assert [e.row for e in error.errors] == [len(bad) + 1]
    db.rollback()

    assert [(o.id, o.phone, o.import_id) for o in stored(db, section["id"])] == before
    assert section_list(db, section["id"]).import_id == first.import_id
    assert count(db, ObjectImport) == 1
    assert count(db, ServiceObject) == len(good)


# ---- duplicates -------------------------------------------------------------------------

def test_duplicates_stored_once_and_reported(db, campaign, places):
    a1, b1 = places["a1"], places["b1"]
    same = "13912345678"
    rows = [
        [a1["unit"], a1["section"], "第一次", "", same, "事项", "否"],
        [a1["unit"], a1["section"], "别人", "", phone(1), "事项", "否"],
        [a1["unit"], a1["section"], "第二次", "", "+86 139-1234-5678", "事项", "是"],
        [b1["unit"], b1["section"], "另一科室", "", "139 1234 5678", "事项", "否"],  # not a duplicate
        [a1["unit"], a1["section"], "第三次", "", "0086１３９１２３４５６７８", "事项", "否"],
    ]
    summary = run_import(db, campaign, table_bytes(MULTI_HEADER, rows), "dups.xlsx")

    first_row = 2
    expected = [(2 + 2, first_row, label(a1)), (4 + 2, first_row, label(a1))]
    assert summary.duplicates == expected
    assert summary.rows_read == len(rows)
    assert summary.stored == len(rows) - len(expected)
    assert [(o.name, o.phone, o.source_row) for o in stored(db, a1["id"])] == [("第一次", same, 2), ("别人", phone(1), 3)]
    assert [(o.name, o.phone) for o in stored(db, b1["id"])] == [("另一科室", same)]
    assert section_list(db, a1["id"]).objects == 2
    assert section_list(db, a1["id"]).penalized == 0  # the penalized row was the duplicate
    upload = db.get(ObjectImport, summary.import_id)
    assert upload.duplicates == len(expected)
    assert [tuple(d) for d in upload.report["duplicates"]] == expected


# ---- per-section rules --------------------------------------------------------------------

def objects_rows(n: int, penalized: int = 0, start: int = 0) -> list[list]:
    return [
        [f"人{i}", "", phone(start + i), f"案件{i}" if i < penalized else "咨询", "是" if i < penalized else "否"]
        for i in range(n)
    ]


def test_500_accepted(db, campaign, places):
    limit = campaign.rules.max_objects_per_section
    section = places["a1"]
    summary = run_import(db, campaign, table_bytes(SINGLE_HEADER, objects_rows(limit), "csv"), "500.csv", section_id=section["id"])
    assert summary.stored == limit == len(stored(db, section["id"]))


def test_501_distinct_rejected_naming_the_section(db, campaign, places):
    limit = campaign.rules.max_objects_per_section
    section = places["a1"]
    error = rejected(db, campaign, table_bytes(SINGLE_HEADER, objects_rows(limit + 1), "csv"), "501.csv", section_id=section["id"])
    assert len(error.errors) == 1
    assert error.errors[0].row == limit + 2  # the first row past the cap
    assert label(section) in error.errors[0].reason
    assert str(limit + 1) in error.errors[0].reason and str(limit) in error.errors[0].reason
    assert count(db, ServiceObject) == count(db, ObjectImport) == 0


def test_cap_counts_distinct_phones_per_section(db, campaign, places):
    limit = campaign.rules.max_objects_per_section
    a1, b1 = places["a1"], places["b1"]
    # limit distinct + one duplicate for a1, and limit for b1: every section within the cap.
    rows = [[a1["unit"], a1["section"], *r] for r in objects_rows(limit)]
    rows.append([a1["unit"], a1["section"], "重复", "", phone(0), "咨询", "否"])
    rows += [[b1["unit"], b1["section"], *r] for r in objects_rows(limit)]
    summary = run_import(db, campaign, table_bytes(MULTI_HEADER, rows, "csv"), "two.csv")
    assert summary.duplicates == [(limit + 2, 2, label(a1))]
    assert len(stored(db, a1["id"])) == limit == len(stored(db, b1["id"]))


def test_enforcement_section_needs_100_penalized_or_confirmation(db, campaign, places):
    minimum = campaign.rules.min_penalized_objects
    section = places["a1"]
    set_enforcement(db, section["id"])
    short = table_bytes(SINGLE_HEADER, objects_rows(minimum + 20, penalized=minimum - 1), "csv")

    error = rejected(db, campaign, short, "short.csv", section_id=section["id"])
    assert len(error.errors) == 1
    reason = error.errors[0].reason
    assert label(section) in reason and str(minimum - 1) in reason and str(minimum) in reason
    assert error.errors[0].column == column_of(SINGLE_HEADER, "是否处罚对象")
    assert count(db, ServiceObject) == count(db, SectionList) == 0

    # Confirmed for another section only: still rejected.
    rejected(db, campaign, short, "short.csv", section_id=section["id"], all_penalized_reported={places["a2"]["id"]})

    run_import(db, campaign, short, "short.csv", section_id=section["id"], all_penalized_reported=True)
    listed = section_list(db, section["id"])
    assert (listed.objects, listed.penalized, listed.all_penalized_reported) == (minimum + 20, minimum - 1, True)

    enough = table_bytes(SINGLE_HEADER, objects_rows(minimum, penalized=minimum), "csv")
    run_import(db, campaign, enough, "enough.csv", section_id=section["id"], round_kind=RoundKind.H2)
    listed = section_list(db, section["id"], RoundKind.H2)
    assert (listed.objects, listed.penalized, listed.all_penalized_reported) == (minimum, minimum, False)


def test_penalized_rule_by_section_in_a_multi_section_file(db, campaign, places):
    minimum = campaign.rules.min_penalized_objects
    a1, a2, b1 = places["a1"], places["a2"], places["b1"]
    set_enforcement(db, a1["id"])
    set_enforcement(db, a2["id"])
    rows = [[a1["unit"], a1["section"], *r] for r in objects_rows(10, penalized=3)]
    rows += [[a2["unit"], a2["section"], *r] for r in objects_rows(minimum, penalized=minimum, start=1000)]
    rows += [[b1["unit"], b1["section"], *r] for r in objects_rows(5, start=2000)]  # not enforcement, 0 penalized
    data = table_bytes(MULTI_HEADER, rows, "csv")

    error = rejected(db, campaign, data, "multi.csv")
    assert len(error.errors) == 1 and label(a1) in error.errors[0].reason

    run_import(db, campaign, data, "multi.csv", all_penalized_reported={a1["id"]})
    assert section_list(db, a1["id"]).all_penalized_reported is True
    assert section_list(db, a2["id"]).all_penalized_reported is False
    assert section_list(db, b1["id"]).all_penalized_reported is False
    assert (section_list(db, a1["id"]).penalized, section_list(db, b1["id"]).penalized) == (3, 0)


def test_penalized_duplicates_do_not_count(db, campaign, places):
    minimum = campaign.rules.min_penalized_objects
    section = places["a1"]
    set_enforcement(db, section["id"])
    rows = objects_rows(minimum - 1, penalized=minimum - 1)
    rows.append(["同一人", "", phone(0), "案件", "是"])  # penalized, but a duplicate
    error = rejected(db, campaign, table_bytes(SINGLE_HEADER, rows, "csv"), "dup.csv", section_id=section["id"])
    assert str(minimum - 1) in error.errors[0].reason


def test_upload_replaces_only_that_rounds_list(db, campaign, places):
    a1, a2 = places["a1"], places["a2"]
    h1_old = run_import(db, campaign, table_bytes(SINGLE_HEADER, objects_rows(4)), "h1.xlsx", section_id=a1["id"])
    h2 = run_import(db, campaign, table_bytes(SINGLE_HEADER, objects_rows(3, start=50)), "h2.xlsx",
                    round_kind=RoundKind.H2, section_id=a1["id"])
    other = run_import(db, campaign, table_bytes(SINGLE_HEADER, objects_rows(2, start=90)), "a2.xlsx", section_id=a2["id"])
    h1_new = run_import(db, campaign, table_bytes(SINGLE_HEADER, objects_rows(6, start=20)), "h1b.xlsx", section_id=a1["id"])

    assert [o.phone for o in stored(db, a1["id"])] == [phone(20 + i) for i in range(6)]
    assert {o.import_id for o in stored(db, a1["id"])} == {h1_new.import_id}
    assert [o.phone for o in stored(db, a1["id"], RoundKind.H2)] == [phone(50 + i) for i in range(3)]
    assert [o.phone for o in stored(db, a2["id"])] == [phone(90 + i) for i in range(2)]
    assert section_list(db, a1["id"]).import_id == h1_new.import_id
    assert section_list(db, a1["id"]).objects == 6
    assert section_list(db, a1["id"], RoundKind.H2).import_id == h2.import_id
    assert section_list(db, a2["id"]).import_id == other.import_id
    assert count(db, ServiceObject) == 6 + 3 + 2
    assert h1_old.import_id not in {sl.import_id for sl in db.scalars(select(SectionList))}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_formula_like_cells_stored_as_text(db, campaign, places, fmt):
    section = places["a1"]
    texts = ['=HYPERLINK("http://x")', "=1+1", "+SUM(A1:A2)", "@cmd", "-2+3"]
    rows = [[t, t, phone(i), t, "否"] for i, t in enumerate(texts)]
    run_import(db, campaign, table_bytes(SINGLE_HEADER, rows, fmt), f"f.{fmt}", section_id=section["id"])
    got = stored(db, section["id"])
    assert [(o.name, o.org_title, o.matter) for o in got] == [(t, t, t) for t in texts]


# ---- web ------------------------------------------------------------------------------------

def upload(client, data: bytes, filename: str, section="0", round_kind="H1", confirm=False):
    form = {"round_kind": round_kind, "section": str(section), "file": (io.BytesIO(data), filename)}
    if confirm:
        form["all_penalized_reported"] = "y"
    return client.post("/office/import/objects", data=form, content_type="multipart/form-data")


def error_rows(html: str) -> list[int]:
    table = re.search(r'<table class="errors" id="import-errors">(.*?)</table>', html, re.S)
    assert table, "no error table on the page"
    return [int(n) for n in re.findall(r'<tr><td class="num">(\d+)</td>', table.group(1))]


def test_admin_upload_redirects_to_report(db, campaign, places, admin_client):
    section = places["a1"]
    rows = objects_rows(5) + [["重复", "", "+86 " + phone(2), "事项", "否"]]
    response = upload(admin_client, table_bytes(SINGLE_HEADER, rows), "list.xlsx", section=section["id"])
    assert response.status_code == 302
    db.rollback()
    upload_row = db.scalar(select(ObjectImport))
    assert response.headers["Location"].endswith(f"/office/imports/{upload_row.id}")
    assert (upload_row.rows_read, upload_row.stored, upload_row.duplicates) == (6, 5, 1)
    assert upload_row.uploaded_by_id is not None

    page = admin_client.get(response.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'id="rows-read">6<', html) and re.search(r'id="stored">5<', html)
    assert re.search(r'id="duplicates">1<', html)
    assert section["section"] in html
    assert "Traceback" not in html


def test_rejected_upload_is_422_listing_every_bad_row(db, campaign, places, admin_client):
    section = places["a1"]
    rows = objects_rows(6)
    bad = [1, 3, 4]  # blank name, 10-digit phone, invalid 是否处罚对象
    rows[1][0] = ""
    rows[3][2] = "1381234567"
    rows[4][4] = "也许"
    response = upload(admin_client, table_bytes(SINGLE_HEADER, rows), "bad.xlsx", section=section["id"])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_rows(html) == sorted(i + 2 for i in bad)
    assert "未导入任何数据" in html and "Traceback" not in html
    db.rollback()
    assert count(db, ServiceObject) == count(db, ObjectImport) == 0


def test_rejected_page_does_not_show_full_phone_numbers(db, campaign, places, admin_client):
    """A number with a stray character is rejected; the page says which row without
    showing the person's whole number."""
    section = places["a1"]
    rows = objects_rows(2)
    rows[1][2] = phone(1) + "a"
    response = upload(admin_client, table_bytes(SINGLE_HEADER, rows, "csv"), "bad.csv", section=section["id"])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_rows(html) == [3]
    assert phone(1) not in html
    assert f"“{mask_phone(phone(1))}a”" in html  # enough to find the cell


def test_bad_upload_forms(db, campaign, places, admin_client):
    section = places["a1"]
    good = table_bytes(SINGLE_HEADER, objects_rows(2))
    assert upload(admin_client, good, "list.txt", section=section["id"]).status_code == 400
    assert upload(admin_client, b"not a zip", "list.xlsx", section=section["id"]).status_code == 422
    assert upload(admin_client, good, "list.xlsx", section="999999999").status_code == 400
    assert upload(admin_client, good, "list.xlsx", round_kind="H3", section=section["id"]).status_code == 400
    db.rollback()
    assert count(db, ServiceObject) == count(db, ObjectImport) == 0


@pytest.fixture
def liaison_client(db, campaign, places, client):
    unit = db.get(Unit, int(places["a1"]["unit_id"]))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    db.commit()
    assert login(client, "liaison").status_code == 302
    return client


def test_liaison_cannot_upload_another_units_section(db, campaign, places, liaison_client):
    a1, b1 = places["a1"], places["b1"]
    rows = [[a1["unit"], a1["section"], *r] for r in objects_rows(3)]
    rows.append([b1["unit"], b1["section"], "别单位", "", phone(50), "事项", "否"])
    response = upload(liaison_client, table_bytes(MULTI_HEADER, rows), "mixed.xlsx")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_rows(html) == [len(rows) + 1]
    assert "不属于本单位" in html
    db.rollback()
    assert count(db, ServiceObject) == count(db, ObjectImport) == 0

    # Choosing another unit's section on the form: not among the choices.
    response = upload(liaison_client, table_bytes(SINGLE_HEADER, objects_rows(2)), "one.xlsx", section=b1["id"])
    assert response.status_code == 400
    assert "不是有效的选择" in response.get_data(as_text=True)
    db.rollback()
    assert count(db, ServiceObject) == count(db, ObjectImport) == 0

    own = table_bytes(MULTI_HEADER, rows[:-1])
    response = upload(liaison_client, own, "own.xlsx")
    assert response.status_code == 302
    db.rollback()
    assert len(stored(db, a1["id"])) == 3


def test_liaison_sees_only_own_sections(db, campaign, places, liaison_client):
    frame = places["frame"]
    unit_id = places["a1"]["unit_id"]
    exempt_place = frame[frame["unit_id"] == unit_id].to_dict("records")[-1]
    make_exempt(db, campaign, exempt_place)
    own = frame[(frame["unit_id"] == unit_id) & (frame["id"] != exempt_place["id"])]

    html = liaison_client.get("/office/import/objects").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="section"[^>]*>(.*?)</select>', html, re.S).group(1)
    offered = re.findall(r'value="(\d+)"', select_html)
    assert offered == ["0"] + [str(i) for i in own["id"]]

    sections_html = liaison_client.get("/office/sections").get_data(as_text=True)
    others = set(frame.loc[frame["unit_id"] != unit_id, "unit"])
    assert not [u for u in others if u in sections_html]
    assert places["a1"]["section"] in sections_html
    assert liaison_client.get(f"/office/sections/{places['b1']['id']}/H1").status_code == 403
    assert liaison_client.get(f"/office/sections/{places['a1']['id']}/H1").status_code == 200


def test_liaison_report_page_of_another_unit_is_403(db, campaign, places, liaison_client):
    other = run_import(db, campaign, table_bytes(SINGLE_HEADER, objects_rows(2)), "b.xlsx", section_id=places["b1"]["id"])
    own = run_import(db, campaign, table_bytes(SINGLE_HEADER, objects_rows(2)), "a.xlsx", section_id=places["a1"]["id"])
    response = liaison_client.get(f"/office/imports/{other.import_id}")
    assert response.status_code == 403
    assert "无权访问" in response.get_data(as_text=True)
    assert liaison_client.get(f"/office/imports/{own.import_id}").status_code == 200
    assert liaison_client.get("/office/imports/999999").status_code == 404


def test_pages_show_masked_phones_only(db, campaign, places, admin_client):
    section = places["a1"]
    numbers = [phone(i, PREFIXES[i % len(PREFIXES)]) for i in range(8)]
    rows = [[f"人{i}", "", n, "事项", "否"] for i, n in enumerate(numbers)]
    rows.append(["重复", "", numbers[0], "事项", "否"])
    response = upload(admin_client, table_bytes(SINGLE_HEADER, rows), "list.xlsx", section=section["id"])
    assert response.status_code == 302
    pages = [
        admin_client.get(f"/office/sections/{section['id']}/H1"),
        admin_client.get(response.headers["Location"]),
        admin_client.get("/office/sections"),
        admin_client.get("/office/"),
    ]
    assert [p.status_code for p in pages] == [200] * len(pages)
    htmls = [p.get_data(as_text=True) for p in pages]
    for number in numbers:
        assert mask_phone(number) == f"{number[:3]}****{number[-4:]}"
        assert mask_phone(number) in htmls[0]
        for html in htmls:
            assert number not in html
    assert not re.search(r"1[3-9]\d{9}", htmls[0])


# ---- CLI ------------------------------------------------------------------------------------

def test_cli_imports_multi_section_file_with_summary(db, campaign, places, runner, tmp_path):
    a1, b1 = places["a1"], places["b1"]
    rows = [[a1["unit"], a1["section"], *r] for r in objects_rows(4)]
    rows += [[b1["unit"], b1["section"], *r] for r in objects_rows(3, start=10)]
    rows.append([a1["unit"], a1["section"], "重复", "", "+86 " + phone(1), "事项", "否"])
    path = tmp_path / "objects.xlsx"
    path.write_bytes(table_bytes(MULTI_HEADER, rows))
    result = runner.invoke(args=["import", "objects", str(path), "--round", "H2"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"读取 {len(rows)} 行" in out and f"保存 {len(rows) - 1} 人" in out and "重复 1 行" in out
    assert f"第 {len(rows) + 1} 行与第 3 行" in out
    assert f"{label(a1)}：4 人" in out and f"{label(b1)}：3 人" in out
    assert "Traceback" not in out
    for n in (phone(i) for i in range(4)):
        assert n not in out
    db.commit()
    assert len(stored(db, a1["id"], RoundKind.H2)) == 4
    assert len(stored(db, b1["id"], RoundKind.H2)) == 3


def test_cli_single_section_mode(db, campaign, places, runner, tmp_path):
    section = places["a2"]
    path = tmp_path / "one.csv"
    path.write_bytes(csv_bytes(pd.DataFrame(objects_rows(3), columns=SINGLE_HEADER)))
    result = runner.invoke(args=["import", "objects", str(path), "--round", "H1",
                                 "--unit", f" {section['unit']}", "--section", section["section"]])
    assert result.exit_code == 0, result.output
    assert "读取 3 行" in result.output and "保存 3 人" in result.output and "重复 0 行" in result.output
    db.commit()
    assert [o.phone for o in stored(db, section["id"])] == [phone(i) for i in range(3)]

    result = runner.invoke(args=["import", "objects", str(path), "--round", "H1", "--unit", section["unit"]])
    assert result.exit_code == 1 and "一起给出" in result.output
    result = runner.invoke(args=["import", "objects", str(path), "--round", "H1",
                                 "--unit", section["unit"], "--section", "并不存在的科"])
    assert result.exit_code == 1 and "没有" in result.output and "Traceback" not in result.output


def test_cli_bad_file_lists_every_bad_row_and_exits_1(db, campaign, places, runner, tmp_path):
    section = places["a1"]
    rows = objects_rows(5)
    rows[0][2] = "138123456789"
    rows[2][0] = ""
    rows[4][4] = "不知道"
    path = tmp_path / "bad.xlsx"
    path.write_bytes(table_bytes(SINGLE_HEADER, rows, title_rows=[["名单"]]))
    result = runner.invoke(args=["import", "objects", str(path), "--round", "H1",
                                 "--unit", section["unit"], "--section", section["section"]])
    assert result.exit_code == 1
    out = result.output
    assert "3 处错误" in out and "未导入任何数据" in out
    for index, col in ((0, "手机号码"), (2, "姓名"), (4, "是否处罚对象")):
        assert f"第 {index + 3} 行，{column_of(SINGLE_HEADER, col)}" in out
    assert "Traceback" not in out
    db.commit()
    assert count(db, ServiceObject) == count(db, ObjectImport) == 0

    missing = runner.invoke(args=["import", "objects", str(tmp_path / "nope.xlsx"), "--round", "H1"])
    assert missing.exit_code == 1 and "找不到文件" in missing.output


# ---- phone normalisation (no database) -------------------------------------------------------

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@st.composite
def written_phones(draw):
    national = draw(st.sampled_from(PREFIXES)) + draw(st.text("0123456789", min_size=8, max_size=8))
    prefix = draw(st.sampled_from(["", "+86", "0086", "86", "+86 ", "+86-", "(+86) "]))
    # Split the 11 digits at random places with random separators.
    cuts = sorted(draw(st.sets(st.integers(1, 10), max_size=4)))
    parts = [national[i:j] for i, j in zip([0, *cuts], [*cuts, 11])]
    separators = draw(st.lists(st.sampled_from([" ", "-", "", "  ", " - "]), min_size=len(parts) - 1, max_size=len(parts) - 1))
    body = parts[0] + "".join(s + p for s, p in zip(separators, parts[1:]))
    text = draw(st.sampled_from(["", " ", "\u3000"])) + prefix + body + draw(st.sampled_from(["", " ", "\t"]))
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    return national, text


@settings(max_examples=200, deadline=None)
@given(written_phones())
def test_normalize_phone_returns_the_digits(case):
    national, text = case
    assert normalize_phone(text) == national
    assert mask_phone(normalize_phone(text)) == national[:3] + "****" + national[-4:]


@settings(max_examples=100, deadline=None)
@given(st.text("0123456789", min_size=1, max_size=12).filter(lambda s: len(s) != 11))
def test_normalize_phone_refuses_wrong_lengths(digits):
    with pytest.raises(PhoneError):
        normalize_phone(digits)
