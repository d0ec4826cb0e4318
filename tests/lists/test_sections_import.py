"""Importing the list of evaluated sections: clean table and Annex-1 layout, preview of
changes, idempotent re-import, every bad row listed, nothing stored on error."""
from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from tests.support.annex import annex1_xlsx
from tests.conftest import SECTIONS_CSV, SECTIONS_XLSX, csv_bytes, xlsx_bytes
from voting.core.errors import ImportRejected, StaleError
from voting.lists.models import Section, Unit
from voting.lists import campaigns, sections

REAL = pd.read_csv(SECTIONS_CSV, dtype=str)


def test_clean_table_gives_the_real_list():
    listed = sections.parse_sections(SECTIONS_XLSX.read_bytes(), SECTIONS_XLSX.name)
    assert len(listed) == len(REAL) == 363
    assert len({s.unit for s in listed}) == REAL["单位名称"].nunique() == 44
    first = listed[0]
    assert (first.unit_no, first.unit, first.section_no, first.section) == (1, "县发改局", 1, "发展规划综合科")


def test_annex1_layout_gives_the_same_list_as_the_clean_table():
    clean = sections.parse_sections(SECTIONS_XLSX.read_bytes(), "clean.xlsx")
    annex = sections.parse_sections(annex1_xlsx(REAL), "annex1.xlsx")
    assert annex == clean


def test_annex1_layout_in_csv_with_gbk_encoding():
    # Merged cells saved as CSV leave the unit blank below its first section.
    frame = REAL.copy()
    frame.loc[frame["单位名称"].duplicated(), ["单位序号", "单位名称"]] = ""
    data = ("附件1\n" + frame.rename(columns={"科室": "科  室"}).to_csv(index=False)).encode("gb18030")
    assert sections.parse_sections(data, "annex1.csv") == sections.parse_sections(
        SECTIONS_CSV.read_bytes(), "clean.csv"
    )


def test_category_column_marks_enforcement_sections():
    frame = REAL.head(3).copy()
    frame["类别"] = ["管理执法类", "", " 管理执法类 "]
    listed = sections.parse_sections(csv_bytes(frame), "s.csv")
    assert [s.is_enforcement for s in listed] == [True, False, True]


def test_every_bad_row_listed_with_row_and_column():
    frame = REAL.head(6).copy()
    frame["类别"] = ""
    frame.loc[1, "科室"] = ""  # file row 3
    frame.loc[2, "科室序号"] = "三"  # file row 4
    frame.loc[3, "类别"] = "服务类"  # file row 5
    frame.loc[4, "科室"] = frame.loc[0, "科室"]  # file row 6 repeats row 2
    frame.loc[5, "单位序号"] = "9"  # file row 7: 县发改局 is unit 1 on row 2
    with pytest.raises(ImportRejected) as caught:
        sections.parse_sections(xlsx_bytes(frame), "bad.xlsx")
    found = {(e.row, e.column.split(" ")[0]): e.reason for e in caught.value.errors}
    assert set(found) == {(3, "D"), (4, "C"), (5, "E"), (6, "D"), (7, "A")}
    assert found[(3, "D")] == "科室名称为空"
    assert "应为正整数" in found[(4, "C")]
    assert "服务类" in found[(5, "E")]
    assert "与第 2 行重复" in found[(6, "D")]
    assert "不一致" in found[(7, "A")]
    assert "科室" in caught.value.errors[0].column  # the header is named, not just the letter


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (b"PK\x03\x04 not really a zip", "list.xlsx", "不是有效的 xlsx"),
        (b"%PDF-1.4", "list.xlsx", "不是有效的 xlsx"),
        (b"anything", "list.xls", "只接受"),
        (b"anything", "list.pdf", "只接受"),
        ("名称,其他\n甲,乙\n".encode(), "list.csv", "找不到表头"),
        ("单位名称,科室\n".encode(), "list.csv", "没有任何科室"),
    ],
)
def test_unreadable_files_are_rejected_with_a_reason(data, filename, reason):
    with pytest.raises(ImportRejected) as caught:
        sections.parse_sections(data, filename)
    assert reason in caught.value.errors[0].reason


def _counts(db):
    return db.scalar(select(func.count()).select_from(Unit)), db.scalar(select(func.count()).select_from(Section))


def test_reimport_of_the_same_list_changes_nothing(db, campaign):
    ids = set(db.scalars(select(Section.id)))
    annex = sections.parse_sections(annex1_xlsx(REAL), "annex1.xlsx")
    diff = sections.diff_sections(db, campaign, annex)
    assert diff.is_empty and diff.unchanged == 363
    sections.apply_sections(db, campaign, annex, diff.fingerprint)
    db.commit()
    assert set(db.scalars(select(Section.id))) == ids
    assert _counts(db) == (44, 363)


def test_changed_list_is_previewed_then_applied(db, campaign):
    frame = REAL.copy()
    frame["类别"] = ""
    removed = frame.iloc[5]
    frame = frame.drop(index=5)
    frame.loc[0, "类别"] = "管理执法类"
    added = pd.DataFrame([{"单位序号": "45", "单位名称": "县新设局", "科室序号": "1", "科室": "综合科", "类别": ""}])
    listed = sections.parse_sections(csv_bytes(pd.concat([frame, added])), "new.csv")
    diff = sections.diff_sections(db, campaign, listed)
    assert [(s.unit, s.section) for s in diff.added] == [("县新设局", "综合科")]
    assert [(s.unit, s.section) for s in diff.removed] == [(removed["单位名称"], removed["科室"])]
    assert [(c.after.section, c.after.is_enforcement) for c in diff.changed] == [(REAL.loc[0, "科室"], True)]
    assert _counts(db) == (44, 363)  # a preview writes nothing
    sections.apply_sections(db, campaign, listed, diff.fingerprint)
    db.commit()
    assert _counts(db) == (45, 363)
    assert db.scalar(select(Section.is_enforcement).where(Section.name == REAL.loc[0, "科室"]))


def test_apply_refuses_when_the_database_moved_since_the_preview(db, campaign):
    listed = sections.parse_sections(SECTIONS_CSV.read_bytes(), "s.csv")
    diff = sections.diff_sections(db, campaign, listed)
    sections.apply_sections(db, campaign, listed[:-1])  # someone else changed it meanwhile
    db.commit()
    with pytest.raises(StaleError):
        sections.apply_sections(db, campaign, listed, diff.fingerprint)


def test_sections_belong_to_their_campaign(db, campaign):
    other = campaigns.create_campaign(db, 2022)
    listed = sections.parse_sections(SECTIONS_CSV.read_bytes(), "s.csv")
    assert len(sections.diff_sections(db, other, listed).added) == 363
    sections.apply_sections(db, other, listed)
    db.commit()
    assert _counts(db) == (88, 726)


# ---- CLI -------------------------------------------------------------------------------

def test_cli_import_sections_shows_changes_and_asks(runner, db, campaign, tmp_path):
    frame = REAL.drop(index=0)
    path = tmp_path / "new.csv"
    path.write_bytes(csv_bytes(frame))
    result = runner.invoke(args=["import", "sections", str(path)], input="n\n")
    assert result.exit_code == 0, result.output
    assert f"- 县发改局 {REAL.loc[0, '科室']}" in result.output and "未做任何改动" in result.output
    assert _counts(db) == (44, 363)
    result = runner.invoke(args=["import", "sections", str(path), "--yes"])
    assert result.exit_code == 0 and "已应用" in result.output
    db.expire_all()
    assert _counts(db) == (44, 362)
    result = runner.invoke(args=["import", "sections", str(path), "--yes"])
    assert "没有任何改动" in result.output


def test_cli_bad_file_lists_every_row_and_exits_1(runner, db, campaign, tmp_path):
    frame = REAL.head(4).copy()
    frame.loc[1, "科室"] = ""
    frame.loc[3, "科室序号"] = "x"
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(frame))
    result = runner.invoke(args=["import", "sections", str(path), "--yes"])
    assert result.exit_code == 1
    assert "第 3 行" in result.output and "第 5 行" in result.output and "Traceback" not in result.output
    assert _counts(db) == (44, 363)


def test_cli_missing_file_and_missing_campaign(runner, tmp_path):
    result = runner.invoke(args=["import", "sections", str(tmp_path / "none.csv")])
    assert result.exit_code == 1 and "评议活动" in result.output  # no campaign yet
    runner.invoke(args=["campaign", "create", "2021"])
    result = runner.invoke(args=["import", "sections", str(tmp_path / "none.csv")])
    assert result.exit_code == 1 and "找不到文件" in result.output


# ---- web -------------------------------------------------------------------------------

def _upload(client, data: bytes, filename: str):
    from io import BytesIO

    return client.post(
        "/office/import/sections", data={"file": (BytesIO(data), filename)}, content_type="multipart/form-data"
    )


def _payload(html: str) -> str:
    import re

    return re.search(r'name="payload" type="hidden" value="([^"]+)"', html).group(1)


def test_web_preview_then_confirm(admin_client, db, campaign):
    frame = REAL.drop(index=[0, 1])
    response = _upload(admin_client, csv_bytes(frame), "new.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "将新增 <b>0</b> 个、删除 <b>2</b> 个" in html
    assert _counts(db) == (44, 363)
    response = admin_client.post("/office/import/sections/confirm", data={"payload": _payload(html)})
    assert response.status_code == 302
    db.expire_all()
    assert _counts(db) == (44, 361)
    # The same preview confirmed twice: the database moved, so it is refused.
    response = admin_client.post("/office/import/sections/confirm", data={"payload": _payload(html)})
    assert response.status_code == 409 and "重新上传" in response.get_data(as_text=True)


def test_web_tampered_payload_is_refused(admin_client, db, campaign):
    html = _upload(admin_client, SECTIONS_CSV.read_bytes(), "s.csv").get_data(as_text=True)
    payload = _payload(html)
    response = admin_client.post("/office/import/sections/confirm", data={"payload": payload[:-3] + "abc"})
    assert response.status_code == 400
    assert _counts(db) == (44, 363)


def test_web_bad_file_lists_rows_and_is_422(admin_client, db, campaign):
    frame = REAL.head(3).copy()
    frame.loc[2, "科室"] = ""
    response = _upload(admin_client, xlsx_bytes(frame), "bad.xlsx")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "科室名称为空" in html and 'id="import-errors"' in html
    assert "Traceback" not in html


def test_web_sections_import_is_for_the_review_office_only(client, db, campaign):
    from tests.conftest import PASSWORD, login
    from voting.staff.models import Role
    from voting.staff.users import create_user

    unit = db.scalar(select(Unit).where(Unit.name == "县公安局"))
    create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    db.commit()
    assert client.get("/office/import/sections").status_code == 302  # not logged in: to login
    login(client, "liaison")
    assert client.get("/office/import/sections").status_code == 403
    response = _upload(client, SECTIONS_CSV.read_bytes(), "s.csv")
    assert response.status_code == 403 and "无权访问" in response.get_data(as_text=True)
