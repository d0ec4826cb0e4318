"""A section's service-object list as Excel (voting/office/export_views.py section_objects):
the office and the section's own liaison download what was stored, in the file's
order, phones masked; another unit's liaison gets 403, an unknown section or round 404;
the section's page links it."""
from __future__ import annotations

from sqlalchemy import select

from sms.phones import mask_phone
from tests.office.test_exports import as_user, download, make_user, notes, table
from tests.survey.test_rounds_web import PRICE, upload
from voting.staff.models import Role
from voting.lists.models import RoundKind, Section, ServiceObject, Unit


def _price(db) -> Section:
    return db.scalar(select(Section).join(Unit).where(Unit.name == PRICE[0], Section.name == PRICE[1]))


def test_the_list_as_stored_with_phones_masked(admin_client, db, campaign):
    upload(db, campaign)  # 12 service objects for 县发改局 价格科, H1
    price = _price(db)
    book, _ = download(admin_client, f"/office/export/sections/{price.id}/H1.xlsx")
    sheet = book["服务对象"]
    assert sheet["A1"].value.startswith(f"{PRICE[0]} · {PRICE[1]} · H1 服务对象（12 人）")
    assert notes(sheet) == ["手机号码隐去中间四位。"]
    header, rows = table(sheet)
    assert header == ["原行号", "姓名", "单位(职务)", "手机号码", "事项内容", "处罚对象"]
    stored = db.scalars(select(ServiceObject).where(ServiceObject.section_id == price.id,
                                                    ServiceObject.round == RoundKind.H1)
                        .order_by(ServiceObject.source_row)).all()
    assert len(rows) == len(stored) == 12
    for row, o in zip(rows, stored):
        assert row[0] == o.source_row and row[1] == o.name and row[3] == mask_phone(o.phone)
        assert row[4] == o.matter and row[5] == ("是" if o.penalized else "否")
    # A round without a list downloads as an empty table, not an error.
    _, rows = table(download(admin_client, f"/office/export/sections/{price.id}/H2.xlsx")[0]["服务对象"])
    assert rows == []
    page = admin_client.get(f"/office/sections/{price.id}/H1").get_data(as_text=True)
    assert f'href="/office/export/sections/{price.id}/H1.xlsx"' in page


def test_a_liaison_gets_the_own_units_lists_only(app, db, campaign):
    upload(db, campaign)
    price = _price(db)
    make_user(db, "own", Role.liaison, price.unit)
    other = db.scalar(select(Unit).where(Unit.campaign_id == campaign.id, Unit.id != price.unit_id))
    make_user(db, "other", Role.liaison, other)
    path = f"/office/export/sections/{price.id}/H1.xlsx"
    _, rows = table(download(as_user(app, "own"), path)[0]["服务对象"])
    assert len(rows) == 12
    assert as_user(app, "other").get(path).status_code == 403


def test_unknown_sections_and_rounds_are_404(admin_client, db, campaign):
    price = _price(db)
    for path in (f"/office/export/sections/{price.id}/H3.xlsx", "/office/export/sections/999999/H1.xlsx"):
        assert admin_client.get(path).status_code == 404, path
