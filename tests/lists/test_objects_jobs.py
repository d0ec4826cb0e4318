"""Big service-object uploads (IMPORT_JOB_BYTES or more) run as a background job: the
file is saved, the job reads it a chunk at a time, checks every row and stores all or
nothing; its page shows the progress, then the import's result or every bad row with
its row and column. A worker killed before the commit leaves nothing, and the job's
restart stores the list once. Small uploads stay in the request (test_objects_import)."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, login
from tests.lists.test_objects_import import MULTI_HEADER, column_of, error_rows, phone, places, table_bytes  # noqa: F401
from voting.jobs import jobs
from voting import tasks
from voting.core import uploads
from voting.audit.models import AuditEntry
from voting.jobs.models import Job, JobStatus
from voting.lists.models import ObjectImport, RoundKind, ServiceObject
from voting.staff.models import Role
from voting.core.models import utcnow
from voting.lists import objects
from voting.core import tables
from voting.staff import users

CHUNK = 40  # rows a chunk: a few hundred rows of a test file cross many chunks


@pytest.fixture
def app_config():
    return {"IMPORT_JOB_BYTES": 1}  # every upload of these tests is "big"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(tables, "CHUNK_ROWS", CHUNK)


def county_rows(places, n: int = 150) -> list[list]:
    """n objects in each of three sections, in that order."""
    return [[p["unit"], p["section"], f"张{i}", "某公司", phone(i + 1000 * k), "办理许可", "否"]
            for k, p in enumerate((places["a1"], places["a2"], places["b1"])) for i in range(n)]


def upload(client, data: bytes, filename: str = "big.xlsx"):
    form = {"round_kind": "H1", "section": "0", "file": (io.BytesIO(data), filename)}
    return client.post("/office/import/objects", data=form, content_type="multipart/form-data")


def count(db, model) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def spooled(app) -> list:
    folder = uploads.spool_dir(app)
    return sorted(folder.iterdir()) if folder.exists() else []


def the_job(db) -> Job:
    db.rollback()
    db.expire_all()
    return db.scalars(select(Job).where(Job.kind == tasks.IMPORT_OBJECTS)).one()


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_big_upload_is_a_job_whose_page_shows_the_result(app, db, campaign, places, admin_client, fmt):
    rows = county_rows(places)
    rows.append([places["a1"]["unit"], places["a1"]["section"], "重复", "", "+86 " + phone(3), "事项", "否"])
    response = upload(admin_client, table_bytes(MULTI_HEADER, rows, fmt), f"big.{fmt}")
    job = the_job(db)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/office/jobs/{job.id}")
    assert job.status is JobStatus.done, job.error
    assert job.done == job.total > len(rows)  # the rows read, then the rows written
    assert job.result["stored"] == 450 and job.result["duplicates"] == 1 and job.result["rows_read"] == 451
    assert count(db, ServiceObject) == 450 and count(db, ObjectImport) == 1
    found = db.get(ObjectImport, job.result["import_id"])
    assert found.uploaded_by_id is not None and found.report["duplicates"] == [[len(rows) + 1, 5, places["a1"]["unit"] + " " + places["a1"]["section"]]]
    assert spooled(app) == []  # the saved upload is gone with the job
    page = admin_client.get(f"/office/jobs/{job.id}").get_data(as_text=True)
    assert "已完成" in page and "保存 450 人" in page and f"/office/imports/{found.id}" in page
    assert count(db, AuditEntry) >= 1


def test_bad_rows_deep_in_a_big_file_store_nothing_and_are_listed(app, db, campaign, places, admin_client):
    # An earlier list of a1 stays as it was: the refused file replaces nothing.
    earlier = [[places["a1"]["unit"], places["a1"]["section"], "老", "", phone(9000), "事项", "否"]]
    objects.import_objects(db, campaign, RoundKind.H1, table_bytes(MULTI_HEADER, earlier, "csv"), "old.csv")
    db.commit()
    rows = county_rows(places)
    bad = {5: 4, 300: 2, 448: 6}  # data row index -> column index: past many chunks
    rows[5][4] = "1381234567"
    rows[300][2] = ""
    rows[448][6] = "也许"
    response = upload(admin_client, table_bytes(MULTI_HEADER, rows))
    job = the_job(db)
    assert response.status_code == 302 and job.status is JobStatus.failed
    assert "3 处错误" in job.error and "未导入任何数据" in job.error
    assert [(e["row"], e["column"]) for e in job.result["errors"]] == [
        (i + 2, column_of(MULTI_HEADER, MULTI_HEADER[c])) for i, c in sorted(bad.items())]
    assert count(db, ServiceObject) == 1 and count(db, ObjectImport) == 1  # only the earlier list
    assert spooled(app) == []
    page = admin_client.get(f"/office/jobs/{job.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "未完成" in html and "Traceback" not in html
    assert error_rows(html) == [i + 2 for i in sorted(bad)]
    assert column_of(MULTI_HEADER, "姓名") in html and "/office/import/objects" in html


def test_a_file_over_the_row_limit_is_refused_after_counting(app, db, campaign, places, monkeypatch):
    monkeypatch.setattr(objects, "MAX_ROWS", 100)
    data = table_bytes(MULTI_HEADER, county_rows(places), "csv")
    with pytest.raises(objects.ImportRejected) as caught:
        objects.import_objects(db, campaign, RoundKind.H1, data, "big.csv")
    assert [str(e) for e in caught.value.errors] == ["文件：文件有 450 行，超过 100 行的上限"]


def test_an_unreadable_big_file_fails_its_job_in_chinese(app, db, campaign, places, admin_client):
    response = upload(admin_client, b"PK\x03\x04 not really a workbook" * 100)
    job = the_job(db)
    assert response.status_code == 302 and job.status is JobStatus.failed
    assert "未导入任何数据" in job.error and "不是有效的 xlsx 文件" in job.result["errors"][0]["reason"]
    page = admin_client.get(f"/office/jobs/{job.id}")
    assert page.status_code == 200 and "不是有效的 xlsx 文件" in page.get_data(as_text=True)
    assert spooled(app) == []


class Killed(BaseException):
    """A worker killed mid-job: no `except Exception` of the job sees it."""


def test_a_job_killed_before_its_commit_stores_the_list_once_on_restart(app, db, campaign, places, admin_client,
                                                                       monkeypatch):
    store = objects._store
    writes = []

    def killed_while_writing(*args, **kwargs):
        store(*args, **kwargs)  # every row inserted in the job's transaction ...
        writes.append(1)
        raise Killed  # ... and the worker dies before the commit

    monkeypatch.setattr(objects, "_store", killed_while_writing)
    with pytest.raises(Killed):
        upload(admin_client, table_bytes(MULTI_HEADER, county_rows(places)))
    job = the_job(db)
    assert job.status is JobStatus.running and job.attempts == 1 and writes == [1]
    assert count(db, ServiceObject) == 0 and count(db, ObjectImport) == 0  # nothing visible
    assert len(spooled(app)) == 1  # kept for the restart
    monkeypatch.setattr(objects, "_store", store)

    later = utcnow() + timedelta(seconds=app.config["JOBS_STALE_SECONDS"] + 1)
    assert job.id in jobs.recover(app, now=later)  # JOBS_URL=immediate: the restart runs now
    job = the_job(db)
    assert job.status is JobStatus.done and job.attempts == 2, job.error
    assert count(db, ServiceObject) == 450 and count(db, ObjectImport) == 1
    assert spooled(app) == []


def test_a_job_killed_after_its_commit_reports_the_import_instead_of_repeating_it(app, db, campaign, places,
                                                                                  admin_client, monkeypatch):
    discard = uploads.discard

    def killed_after_commit(*args):
        raise Killed

    monkeypatch.setattr(uploads, "discard", killed_after_commit)
    with pytest.raises(Killed):
        upload(admin_client, table_bytes(MULTI_HEADER, county_rows(places)))
    assert count(db, ServiceObject) == 450 and count(db, ObjectImport) == 1  # committed
    job = the_job(db)
    assert job.status is JobStatus.running
    monkeypatch.setattr(uploads, "discard", discard)
    later = utcnow() + timedelta(seconds=app.config["JOBS_STALE_SECONDS"] + 1)
    jobs.recover(app, now=later)
    job = the_job(db)
    assert job.status is JobStatus.done and job.attempts == 2
    assert count(db, ServiceObject) == 450 and count(db, ObjectImport) == 1  # not twice
    assert job.result["stored"] == 450 and spooled(app) == []


def test_a_liaison_follows_their_own_upload_only(app, db, campaign, places, client):
    from voting.lists.models import Unit

    unit = db.get(Unit, places["a1"]["unit_id"])
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit=unit)
    users.create_user(db, "other", PASSWORD, Role.liaison, unit=unit)
    db.commit()
    login(client, "liaison")
    rows = [r[2:] for r in county_rows(places, 20)[:20]]
    form = {"round_kind": "H1", "section": str(places["a1"]["id"]),
            "file": (io.BytesIO(table_bytes(MULTI_HEADER[2:], rows)), "mine.xlsx")}
    response = client.post("/office/import/objects", data=form, content_type="multipart/form-data")
    job = the_job(db)
    assert response.status_code == 302 and job.status is JobStatus.done, job.error
    page = client.get(f"/office/jobs/{job.id}")
    assert page.status_code == 200 and 'href="/office/jobs/"' not in page.get_data(as_text=True)  # the office's list
    assert client.get(f"/office/jobs/{job.id}/progress").json["finished"] is True
    client.post("/logout")
    login(client, "other")
    assert client.get(f"/office/jobs/{job.id}").status_code == 403


def test_the_spool_has_a_size_limit(app, db, campaign, places, admin_client):
    app.config["IMPORT_SPOOL_MAX_BYTES"] = 10
    response = upload(admin_client, table_bytes(MULTI_HEADER, county_rows(places, 5)))
    assert response.status_code == 503 and "上限" in response.get_data(as_text=True)
    assert count(db, Job) == 0 and spooled(app) == []


def test_the_command_line_runs_the_same_job_with_a_bar(app, db, campaign, places, runner, tmp_path):
    path = tmp_path / "big.csv"
    rows = county_rows(places)
    rows[200][2] = ""
    path.write_bytes(table_bytes(MULTI_HEADER, rows, "csv"))
    result = runner.invoke(args=["import", "objects", str(path), "--round", "H1"])
    assert result.exit_code == 1 and "第 202 行，" + column_of(MULTI_HEADER, "姓名") in result.output
    assert count(db, ServiceObject) == 0 and path.exists()  # the command line's own file stays
    rows[200][2] = "张三"
    path.write_bytes(table_bytes(MULTI_HEADER, rows, "csv"))
    result = runner.invoke(args=["import", "objects", str(path), "--round", "H1"])
    assert result.exit_code == 0, result.output
    assert "读取 450 行，保存 450 人" in result.output and path.exists()
    assert count(db, ServiceObject) == 450
    assert db.scalars(select(Job).where(Job.kind == tasks.IMPORT_OBJECTS, Job.status == JobStatus.done)).one()


def test_chunks_read_as_the_whole_file_did(db, campaign):
    """Page-break header rows, blank rows, merged (filled-down) cells and NUL cells
    across chunk boundaries: the same as one DataFrame of the whole file."""
    from voting.lists.sections import COLUMNS

    header = ["单位序号", "单位名称", "科室"]
    rows = []
    for i in range(200):
        rows.append([i // 7 if i % 7 == 0 else "", f"单位{i // 7}" if i % 7 == 0 else "", f"科{i}"])
        if i % 45 == 0:
            rows.append(header)
            rows.append(["", "", ""])
    data = table_bytes(header, rows, "csv", title_rows=[["2021 年参评科室"]])
    table = tables.read_table(data, "s.csv", COLUMNS, fill_down=("unit_no", "unit"))
    assert len(table.frame) == 200
    assert table.frame["unit"].tolist()[:8] == ["单位0"] * 7 + ["单位1"]
    assert table.frame["unit"].iloc[199] == "单位28"
    nul = [r[:] for r in rows]
    nul[3][2] = "科\x00"
    nul[150][2] = "科\x00"
    with pytest.raises(tables.ImportRejected) as caught:
        tables.read_table(table_bytes(header, nul, "csv"), "s.csv", COLUMNS)
    assert [e.row for e in caught.value.errors] == [3 + 2, 150 + 2]


@pytest.mark.parametrize("name", ["IMPORT_JOB_BYTES", "IMPORT_SPOOL_MAX_BYTES"])
@pytest.mark.parametrize("value", ["1 MB", 0, -5, True, 1.5])
def test_the_size_settings_must_be_whole_numbers_of_bytes(tmp_path, name, value):
    from tests.conftest import make_app
    from voting.core.config import ConfigError

    with pytest.raises(ConfigError, match=f"FLASK_{name} 应为正整数"):
        make_app(f"sqlite:///{tmp_path / 'x.sqlite'}", tmp_path, **{name: value})
