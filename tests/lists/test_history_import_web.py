"""The history page: what is stored, by year; an upload is checked and previewed (per
year the counts by result, the rows that would replace stored ones, the rows naming no
section of the campaign) and stored only by a confirm carrying the preview's signed,
short-lived token."""
from __future__ import annotations

import html
import re
import time
from io import BytesIO

import pandas as pd
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from tests.conftest import PASSWORD, csv_bytes, login
from voting.audit.models import AuditEntry
from voting.lists.models import HistoryResult, Result
from voting.staff.models import Role
from voting.lists import history
from voting.staff import users
from voting.lists.sections import sections_frame
from voting.lists.views import HISTORY_EXPIRED, HISTORY_FORGED, HISTORY_PREVIEW_SECONDS

HEADER = ["年度", "单位名称", "科室", "结果"]
STORED = [
    (2019, "县发改局", "价格科", "满意单位"),
    (2020, "县发改局", "价格科", "满意单位"),
    (2020, "县公安局", "治安大队", "满意单位"),
    (2020, "县教育局", "督导科", "不满意单位"),
]
# Against STORED: one the same, one replaced, one new, one new naming no section of the
# campaign; 2020 县教育局 督导科 is not in the file and stays.
UPLOAD = [
    (2020, "县发改局", "价格科", "满意单位"),
    (2020, "县公安局", "治安大队", "最不满意单位"),
    (2021, "县公安局", "治安大队", "不满意单位"),
    (2021, "县发改局", "已撤销科", "满意单位"),
]


def _csv(rows) -> bytes:
    return csv_bytes(pd.DataFrame(rows, columns=HEADER))


def _store(db, campaign, rows) -> None:
    history.import_history(db, campaign, _csv(rows), "earlier.csv")
    db.commit()


def _rows(db) -> list[tuple[int, str, str, str]]:
    db.rollback()  # a fresh snapshot: each request commits in a session of its own
    found = db.execute(select(HistoryResult.year, HistoryResult.unit_name, HistoryResult.section_name,
                              HistoryResult.result)).all()
    return sorted((y, u, s, r.value) for y, u, s, r in found)


def _history_logged(db) -> int:
    db.rollback()
    return len(db.scalars(select(AuditEntry).where(AuditEntry.action == "history.import")).all())


def _upload(client, rows, filename: str = "往年.csv"):
    return client.post("/office/import/history", content_type="multipart/form-data",
                       data={"file": (BytesIO(_csv(rows) if not isinstance(rows, bytes) else rows), filename)})


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _payload(page: str) -> str:
    return re.search(r'name="payload" type="hidden" value="([^"]+)"', page).group(1)


def _table_rows(page: str, table_id: str) -> list[list[str]]:
    """The body rows of the table `table_id`, each as its cells' text."""
    body = re.search(rf'<table\b[^>]*\bid="{table_id}"[^>]*>.*?<tbody>(.*?)</tbody>', page, re.DOTALL).group(1)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)]


def test_the_preview_shows_what_would_change_and_stores_nothing(admin_client, db, campaign):
    _store(db, campaign, STORED)
    before, logged = _rows(db), _history_logged(db)
    response = _upload(admin_client, UPLOAD)
    assert response.status_code == 200
    page = _page(response)
    assert "核对：往年.csv（4 行）" in page
    assert "将新增 2 条、替换 1 条已保存的结果；1 条与已保存的相同。" in re.sub(r"<[^>]+>", "", page)
    # Per year: 满意 / 不满意 / 最不满意, total, added, replaced, unchanged, kept.
    assert _table_rows(page, "preview-years") == [
        ["2021", "1", "1", "0", "2", "2", "0", "0", "0"],
        ["2020", "1", "0", "1", "2", "0", "1", "1", "1"],
    ]
    assert _table_rows(page, "preview-replaced") == [["3", "2020", "县公安局", "治安大队", "满意单位", "最不满意单位"]]
    assert _table_rows(page, "preview-unmatched") == [["5", "县发改局", "已撤销科"]]
    assert 'action="/office/import/history/confirm"' in page
    # What is stored now is listed under the preview, unchanged.
    assert _table_rows(page, "stored-years")[0] == ["2020", "2", "1", "0", "3", "0"]
    assert _rows(db) == before and _history_logged(db) == logged


def test_confirm_stores_and_the_page_lists_what_is_stored(admin_client, db, campaign):
    _store(db, campaign, STORED)
    payload = _payload(_page(_upload(admin_client, UPLOAD)))
    response = admin_client.post("/office/import/history/confirm", data={"payload": payload})
    assert response.status_code == 302 and response.headers["Location"] == "/office/import/history"
    assert _rows(db) == sorted([
        (2019, "县发改局", "价格科", "satisfied"),
        (2020, "县发改局", "价格科", "satisfied"),
        (2020, "县公安局", "治安大队", "most_unsatisfied"),
        (2020, "县教育局", "督导科", "unsatisfied"),  # not in the file: kept
        (2021, "县发改局", "已撤销科", "satisfied"),
        (2021, "县公安局", "治安大队", "unsatisfied"),
    ])
    page = _page(admin_client.get("/office/import/history"))
    assert "已导入 往年.csv：共 4 行，新增 2，更新 1，未变 1。" in page
    assert "第 5 行：“县发改局 已撤销科”不在本年度参评科室名单中（已保存，请核对名称）" in page
    # By year, latest first: 满意 / 不满意 / 最不满意, total, not on this year's list.
    assert _table_rows(page, "stored-years") == [
        ["2021", "1", "1", "0", "2", "1"],
        ["2020", "1", "1", "1", "3", "0"],
        ["2019", "1", "0", "0", "1", "0"],
    ]
    # Each year's sections, results first, then by name.
    section_rows = re.search(r'<details class="notes" id="stored-2021">.*?</details>', page, re.DOTALL).group(0)
    assert "2021 年度：2 个科室" in section_rows
    listed = _table_rows(section_rows.replace("<table>", '<table id="t">'), "t")
    assert listed == [["满意单位", "县发改局", "已撤销科", "不在本年度参评科室名单中"],
                      ["不满意单位", "县公安局", "治安大队", ""]]
    # The confirm is the one import in the audit log, by the admin.
    db.rollback()
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "history.import")
                       .order_by(AuditEntry.id.desc())).first()
    assert entry.actor == "admin" and entry.detail["filename"] == "往年.csv" and entry.detail["updated"] == 1


def test_nothing_stored_yet(admin_client, campaign):
    page = _page(admin_client.get("/office/import/history"))
    assert 'id="stored-none"' in page and "尚未保存任何往年评议结果。" in page
    assert "上传并预览" in page


def test_a_preview_with_nothing_new_says_so(admin_client, db, campaign):
    _store(db, campaign, STORED)
    page = _page(_upload(admin_client, STORED[:2]))
    assert "文件中的结果与已保存的完全相同，导入不会改变任何数据。" in page and "确认（无改动）" in page


def test_a_forged_or_expired_token_is_refused_and_nothing_is_stored(admin_client, db, campaign, monkeypatch):
    _store(db, campaign, STORED)
    before = _rows(db)
    payload = _payload(_page(_upload(admin_client, UPLOAD)))
    tampered = payload[:-3] + ("abc" if not payload.endswith("abc") else "xyz")
    forged = URLSafeTimedSerializer("another key", salt="history-preview").dumps({"campaign": campaign.id, "fingerprint": "x", "filename": "f.csv",
                                      "rows": [[2, 2021, "县公安局", "治安大队", "satisfied"]]})
    for token in (tampered, forged, "", "not-a-token"):
        response = admin_client.post("/office/import/history/confirm", data={"payload": token})
        assert response.status_code == 400, token
        assert HISTORY_FORGED in _page(response), token
    # An hour and a second later, the real token has expired.
    later = int(time.time()) + HISTORY_PREVIEW_SECONDS + 1
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    response = admin_client.post("/office/import/history/confirm", data={"payload": payload})
    assert response.status_code == 400 and HISTORY_EXPIRED in _page(response)
    assert _rows(db) == before
    monkeypatch.undo()
    # Within the hour the same token still stores.
    assert admin_client.post("/office/import/history/confirm", data={"payload": payload}).status_code == 302
    assert _rows(db) != before


def test_a_change_to_the_previewed_rows_since_the_preview_is_refused(admin_client, db, campaign):
    _store(db, campaign, STORED)
    payload = _payload(_page(_upload(admin_client, UPLOAD)))
    _store(db, campaign, [(2020, "县公安局", "治安大队", "不满意单位")])  # a row the file names
    before = _rows(db)
    response = admin_client.post("/office/import/history/confirm", data={"payload": payload})
    assert response.status_code == 409 and "预览之后往年评议结果已被修改，请重新上传并核对。" in _page(response)
    assert _rows(db) == before


def test_an_unrelated_change_keeps_the_preview_good(admin_client, db, campaign):
    _store(db, campaign, STORED)
    payload = _payload(_page(_upload(admin_client, UPLOAD)))
    _store(db, campaign, [(2018, "县发改局", "价格科", "满意单位")])
    assert admin_client.post("/office/import/history/confirm", data={"payload": payload}).status_code == 302
    assert (2021, "县公安局", "治安大队", "unsatisfied") in _rows(db)


@pytest.mark.parametrize(
    ("rows", "errors"),
    [
        ([("去年", "县发改局", "价格科", "满意单位"), (2020, "县发改局", "价格科", "优秀")],
         [("2", "A 列（年度）", "年度“去年”应为 2000–2100 之间的年份"),
          ("3", "D 列（结果）", "结果“优秀”无效：应为 满意单位、不满意单位 或 最不满意单位")]),
        ([(2020, "县发改局", "科" * 201, "满意单位")], [("2", "C 列（科室）", "科室名称超过 200 字")]),
    ],
)
def test_a_bad_file_lists_its_rows_and_columns_and_stores_nothing(admin_client, db, campaign, rows, errors):
    _store(db, campaign, STORED)
    before = _rows(db)
    response = _upload(admin_client, rows, "坏.csv")
    assert response.status_code == 422
    page = _page(response)
    assert f"文件 坏.csv 有 {len(errors)} 处错误" in page
    assert [tuple(r) for r in _table_rows(page, "import-errors")] == errors
    assert 'name="payload"' not in page
    assert _table_rows(page, "stored-years")[0][0] == "2020"  # what is stored is still shown
    assert _rows(db) == before


def test_only_an_admin_previews_or_confirms(app, admin_client, db, campaign):
    payload = _payload(_page(_upload(admin_client, UPLOAD)))
    users.create_user(db, "operator", PASSWORD, Role.operator)
    db.commit()
    other = app.test_client()
    assert login(other, "operator").status_code == 302
    assert other.get("/office/import/history").status_code == 403
    assert other.post("/office/import/history/confirm", data={"payload": payload}).status_code == 403
    assert _rows(db) == []
    assert admin_client.get("/office/import/history/confirm").status_code == 405


def test_a_big_file_fits_the_confirm_form(app, admin_client, db, campaign):
    """Five years of every section of the real list: the token the page carries stays
    well inside the size a form may post, and the confirm stores every row."""
    db.rollback()
    frame = sections_frame(db, campaign)
    results = list(Result)
    rows = [(year, unit, section, results[(i + year) % 3].label)
            for year in range(2016, 2021) for i, (unit, section) in enumerate(zip(frame["unit"], frame["section"]))]
    page = _page(_upload(admin_client, rows, "big.csv"))
    payload = _payload(page)
    assert len(payload) < app.config["MAX_TEXT_FORM_LENGTH"] // 4
    assert admin_client.post("/office/import/history/confirm", data={"payload": payload}).status_code == 302
    assert len(_rows(db)) == 5 * len(frame) == 1815
