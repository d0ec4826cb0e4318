"""Earlier years' results: the import, and exemption / last-year-unsatisfied derived
from them (docs/rules.md §2.12, history.csv §6.3)."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from scoring import columns as C
from scoring.history import history_flags
from scoring.settings import RuleSettings
from tests.conftest import csv_bytes, xlsx_bytes
from voting.core.errors import ImportRejected
from voting.lists.models import HistoryResult, Result
from voting.lists import history

SECTIONS = pd.DataFrame({C.UNIT: ["甲局", "甲局", "乙局", "乙局"], C.SECTION: ["一科", "二科", "一科", "二科"]})


def _history(rows):
    return pd.DataFrame(rows, columns=[C.YEAR, C.UNIT, C.SECTION, C.RESULT])


@pytest.mark.parametrize(
    ("rows", "exempt", "previous"),
    [
        # satisfied in both 2019 and 2020: exempt in 2021
        ([(2019, "甲局", "一科", C.SATISFIED), (2020, "甲局", "一科", C.SATISFIED)], [True, False, False, False], [False] * 4),
        # only one of the two years: not exempt
        ([(2020, "甲局", "一科", C.SATISFIED), (2018, "甲局", "一科", C.SATISFIED)], [False] * 4, [False] * 4),
        # two years but not the two previous ones
        ([(2018, "甲局", "一科", C.SATISFIED), (2019, "甲局", "一科", C.SATISFIED)], [False] * 4, [False] * 4),
        # last year's unsatisfied and most unsatisfied enter directly; two years ago does not
        ([(2020, "乙局", "一科", C.UNSATISFIED), (2020, "乙局", "二科", C.MOST_UNSATISFIED), (2019, "甲局", "二科", C.UNSATISFIED)],
         [False] * 4, [False, False, True, True]),
        # same names in another unit do not match
        ([(2019, "乙局", "一科", C.SATISFIED), (2020, "甲局", "一科", C.SATISFIED)], [False] * 4, [False] * 4),
    ],
)
def test_history_flags(rows, exempt, previous):
    flags = history_flags(SECTIONS, _history(rows), 2021, RuleSettings())
    assert flags[C.EXEMPT].tolist() == exempt
    assert flags[C.PREVIOUS_UNSATISFIED].tolist() == previous


def test_exemption_years_is_a_setting():
    rows = [(2020, "甲局", "一科", C.SATISFIED)]
    flags = history_flags(SECTIONS, _history(rows), 2021, RuleSettings(exemption_years=1))
    assert flags[C.EXEMPT].tolist() == [True, False, False, False]


@given(st.permutations(list(range(6))))
def test_history_flags_do_not_depend_on_row_order(order):
    rows = [
        (2019, "甲局", "一科", C.SATISFIED), (2020, "甲局", "一科", C.SATISFIED),
        (2020, "乙局", "一科", C.UNSATISFIED), (2019, "乙局", "二科", C.SATISFIED),
        (2020, "乙局", "二科", C.SATISFIED), (2020, "甲局", "二科", C.MOST_UNSATISFIED),
    ]
    flags = history_flags(SECTIONS, _history([rows[i] for i in order]), 2021, RuleSettings())
    assert flags[C.EXEMPT].tolist() == [True, False, False, True]
    assert flags[C.PREVIOUS_UNSATISFIED].tolist() == [False, True, True, False]


# ---- import ----------------------------------------------------------------------------

def _frame(rows):
    return pd.DataFrame(rows, columns=["年度", "单位名称", "科室", "结果"])


GOOD = _frame([
    (2019, "县发改局", "价格科", "满意单位"),
    (2020, "县发改局", "价格科", "满意单位"),
    (2020, "县公安局", "治安大队", "不满意单位"),
    (2020, "县教育局", "督导科", "最不满意单位"),
])


def _statuses(db, campaign):
    frame = history.section_statuses(db, campaign).set_index(["unit", "section"])
    return frame


def test_import_sets_exempt_and_previous_unsatisfied(db, campaign):
    summary = history.import_history(db, campaign, csv_bytes(GOOD), "history.csv")
    db.commit()
    assert (summary.rows, summary.added, summary.updated, summary.unchanged) == (4, 4, 0, 0)
    statuses = _statuses(db, campaign)
    assert statuses[C.EXEMPT].sum() == 1 and statuses.loc[("县发改局", "价格科"), C.EXEMPT]
    assert set(statuses[statuses[C.PREVIOUS_UNSATISFIED]].index) == {("县公安局", "治安大队"), ("县教育局", "督导科")}


def test_reimport_updates_a_result_and_changes_nothing_else(db, campaign):
    history.import_history(db, campaign, csv_bytes(GOOD), "history.csv")
    changed = GOOD.copy()
    changed.loc[1, "结果"] = "不满意单位"
    summary = history.import_history(db, campaign, xlsx_bytes(changed), "history.xlsx")
    db.commit()
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 3)
    assert db.scalar(select(func.count()).select_from(HistoryResult)) == 4
    statuses = _statuses(db, campaign)
    assert not statuses[C.EXEMPT].any()
    assert statuses.loc[("县发改局", "价格科"), C.PREVIOUS_UNSATISFIED]


def test_names_are_matched_after_folding_spaces_and_full_width_brackets(db, campaign):
    rows = _frame([(2019, " 县发改局", "能源科（县能源监察大队）", "满意单位"), (2020, "县发改局", "能源科 (县能源监察大队)", "satisfied")])
    history.import_history(db, campaign, csv_bytes(rows), "h.csv")
    assert _statuses(db, campaign).loc[("县发改局", "能源科(县能源监察大队)"), C.EXEMPT]


def test_unmatched_rows_are_stored_and_reported(db, campaign):
    rows = _frame([(2020, "县发改局", "已撤销科", "满意单位")])
    summary = history.import_history(db, campaign, csv_bytes(rows), "h.csv")
    assert summary.unmatched == [(2, "县发改局", "已撤销科")]
    assert db.scalar(select(func.count()).select_from(HistoryResult)) == 1


def test_bad_rows_are_all_listed_and_nothing_is_stored(db, campaign):
    rows = _frame([
        (2020, "县发改局", "价格科", "满意单位"),
        ("去年", "县发改局", "价格科", "满意单位"),
        (2020, "", "价格科", "满意单位"),
        (2020, "县发改局", "价格科", "优秀"),
        (2020, "县发改局", "价格科", "不满意单位"),  # same year and section as row 2
    ])
    with pytest.raises(ImportRejected) as caught:
        history.import_history(db, campaign, csv_bytes(rows), "h.csv")
    assert [(e.row, e.column[:1]) for e in caught.value.errors] == [(3, "A"), (4, "B"), (5, "D"), (6, "")]
    assert "与第 2 行重复" in caught.value.errors[-1].reason
    db.rollback()
    assert db.scalar(select(func.count()).select_from(HistoryResult)) == 0


def test_history_before_any_campaign_via_cli(runner, db, tmp_path):
    path = tmp_path / "history.csv"
    path.write_bytes(csv_bytes(GOOD))
    result = runner.invoke(args=["import", "history", str(path)])
    assert result.exit_code == 0, result.output
    assert "新增 4" in result.output
    assert sorted(r.value for r in db.scalars(select(HistoryResult.result))) == sorted(
        [Result.satisfied.value] * 2 + [Result.unsatisfied.value, Result.most_unsatisfied.value]
    )


def test_web_history_import_and_sections_page(admin_client, db, campaign):
    import re
    from io import BytesIO

    preview = admin_client.post(
        "/office/import/history", data={"file": (BytesIO(csv_bytes(GOOD)), "history.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200
    payload = re.search(r'name="payload" type="hidden" value="([^"]+)"', preview.get_data(as_text=True)).group(1)
    response = admin_client.post("/office/import/history/confirm", data={"payload": payload})
    assert response.status_code == 302
    page = admin_client.get("/office/sections").get_data(as_text=True)
    assert page.count(">免评<") == 1 and page.count(">上年不满意<") == 2
    bad = admin_client.post(
        "/office/import/history", data={"file": (BytesIO(csv_bytes(_frame([(1999, "甲", "乙", "满意单位")]))), "h.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "2000–2100" in bad.get_data(as_text=True)
