"""Component files and entries in the database, scored from there: the platform's
scorecard equals the offline bundle's for the same files."""
from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from scoring import columns as C
from voting.core.errors import DomainError, ImportRejected
from voting.components.models import ComponentKind, PlatformEvent, SupervisorScore, VoteCount
from voting.lists.models import Result, Section, Unit
from voting.components import components
from voting.lists import history
from voting.scores import scorecards
from voting.components.bundle import score_bundle

KINDS = [ComponentKind.votes, ComponentKind.platform, ComponentKind.supervisor, ComponentKind.inspection, ComponentKind.bonus]


BUNDLE_SEED = 7  # the example year (tests/conftest.py bundle_dir)


def _load(db, campaign, directory, kinds=KINDS):
    history.import_history(db, campaign, (directory / "history.csv").read_bytes(), "history.csv")
    for kind in kinds:
        path = directory / f"{kind.value}.csv"
        components.import_component(db, campaign, kind, path.read_bytes(), path.name)
    db.commit()


def _count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_the_platform_scores_what_the_bundle_scores(db, campaign, bundle_dir):
    _load(db, campaign, bundle_dir)
    card = scorecards.campaign_scorecard(db, campaign)
    offline = score_bundle(bundle_dir)
    assert card.network_held and offline.network_held
    left = card.sections.set_index([C.UNIT, C.SECTION]).sort_index()
    right = offline.sections.set_index([C.UNIT, C.SECTION]).sort_index()
    scores = [C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.DAILY, C.NETWORK, C.BONUS, C.TOTAL]
    pd.testing.assert_frame_equal(left[scores], right[scores], rtol=0, atol=1e-9)
    for column in (C.SHORTLIST, C.RESULT, C.EXEMPT):
        assert left[column].tolist() == right[column].tolist()
    assert (card.sections[C.SHORTLIST].notna()).sum() == 110
    assert card.sections["section_id"].notna().all()


def test_a_new_file_replaces_the_earlier_file_and_keeps_single_entries(db, campaign, bundle_dir):
    _load(db, campaign, bundle_dir, [ComponentKind.platform])
    first = _count(db, PlatformEvent)
    section_id = db.scalar(select(Section.id).join(Unit).where(Unit.name == "县公安局").limit(1))
    components.add_entry(db, campaign, ComponentKind.platform, section_id,
                         {"platform": C.HOTLINE, "item": C.CONDUCT, "deduction": 4.0, "role": C.LEAD}, None, "电话记录")
    db.commit()
    path = bundle_dir / "platform.csv"
    summary = components.import_component(db, campaign, ComponentKind.platform, path.read_bytes(), path.name)
    db.commit()
    assert summary.replaced == first and summary.stored == first
    assert _count(db, PlatformEvent) == first + 1


def test_a_bad_file_stores_nothing(db, campaign):
    data = "单位名称,科室,平台,项目,扣分,承办\n县公安局,信访科,投诉举报,作风投诉,9,主办\n".encode()
    with pytest.raises(ImportRejected) as caught:
        components.import_component(db, campaign, ComponentKind.platform, data, "platform.csv")
    db.rollback()
    assert caught.value.errors[0].row == 2 and "E 列" in caught.value.errors[0].column
    assert _count(db, PlatformEvent) == 0


def test_vote_counts_replace_per_section_and_round(db, campaign):
    data = "单位名称,科室,轮次,满意,基本满意,不满意\n县公安局,信访科,H1,30,5,1\n".encode()
    components.import_component(db, campaign, ComponentKind.votes, data, "votes.csv")
    components.import_component(db, campaign, ComponentKind.votes, data.replace(b"30,5,1", b"31,5,1"), "votes.csv")
    db.commit()
    assert db.scalars(select(VoteCount.satisfied)).all() == [31]


def test_rows_of_exempt_sections_are_reported_not_stored(db, campaign):
    history.import_history(db, campaign, "年度,单位名称,科室,结果\n2019,县公安局,信访科,满意单位\n2020,县公安局,信访科,满意单位\n".encode(), "h.csv")
    data = "单位名称,科室,平台,项目,扣分,承办\n县公安局,信访科,投诉举报,作风投诉,4,主办\n".encode()
    summary = components.import_component(db, campaign, ComponentKind.platform, data, "platform.csv")
    assert summary.stored == 0 and "免评" in summary.warnings[0] and "第 2 行" in summary.warnings[0]


def _unit(db, name="县公安局"):
    return db.scalar(select(Unit).where(Unit.name == name))


def test_supervisor_form_scores_keep_the_tiers(db, campaign):
    unit = _unit(db)
    sheet = components.unit_supervisor_sheet(db, campaign, unit.id)
    n = len(sheet)
    assert n >= 6
    low = n // 3
    # All 优秀: too many in one tier, none in the others.
    with pytest.raises(components.TierError) as caught:
        components.save_supervisor_scores(db, campaign, unit.id, {r["id"]: 4.5 for r in sheet}, None)
    assert any(f"县公安局：优秀档有 {n} 个科室" in m for m in caught.value.messages)
    assert any("良好档有 0 个科室" in m and f"少了 {low} 个" in m for m in caught.value.messages)
    good = {r["id"]: [4.5, 3.5, 2.0][i % 3] for i, r in enumerate(sheet)}
    assert components.save_supervisor_scores(db, campaign, unit.id, good, None) == n
    db.commit()
    assert _count(db, SupervisorScore) == n
    with pytest.raises(DomainError, match="没有评分"):
        components.save_supervisor_scores(db, campaign, unit.id, dict(list(good.items())[1:]), None)
    with pytest.raises(DomainError, match="一位小数"):
        components.save_supervisor_scores(db, campaign, unit.id, {**good, sheet[0]["id"]: 4.55}, None)


def test_decisions_need_the_online_round_a_candidate_and_a_reason(db, campaign, bundle_dir):
    section_id = db.scalar(select(Section.id).limit(1))
    with pytest.raises(DomainError, match="网络评价尚未进行"):
        scorecards.decide(db, campaign, section_id, Result.satisfied, "理由", None)
    _load(db, campaign, bundle_dir)
    card = scorecards.campaign_scorecard(db, campaign)
    worst = card.sections[card.sections[C.PROPOSED] == C.MOST_UNSATISFIED].iloc[0]
    outsider = card.sections[card.sections[C.SHORTLIST].isna() & ~card.sections[C.EXEMPT]].iloc[0]
    with pytest.raises(DomainError, match="不在候选名单中"):
        scorecards.decide(db, campaign, int(outsider["section_id"]), Result.satisfied, "理由", None)
    with pytest.raises(DomainError, match="请填写理由"):
        scorecards.decide(db, campaign, int(worst["section_id"]), Result.unsatisfied, "  ", None)
    scorecards.decide(db, campaign, int(worst["section_id"]), Result.unsatisfied, "县委常委会研究决定", None)
    db.commit()
    after = scorecards.campaign_scorecard(db, campaign)
    row = after.sections[after.sections["section_id"] == worst["section_id"]].iloc[0]
    assert row[C.PROPOSED] == C.MOST_UNSATISFIED and row[C.RESULT] == C.UNSATISFIED
    assert "县委常委会研究决定" in row[C.DECISION]
    scorecards.undo_decision(db, campaign, int(worst["section_id"]))
    db.commit()
    again = scorecards.campaign_scorecard(db, campaign)
    assert again.sections.loc[again.sections["section_id"] == worst["section_id"], C.RESULT].iloc[0] == C.MOST_UNSATISFIED


def test_cli_imports_a_component_file_and_reports_bad_rows(runner, db, campaign, tmp_path):
    good = tmp_path / "platform.csv"
    good.write_text("单位名称,科室,平台,项目,扣分,承办\n县公安局,信访科,投诉举报,办理评价,5,协办\n", encoding="utf-8")
    result = runner.invoke(args=["import", "component", "platform", str(good)])
    assert result.exit_code == 0, result.output
    assert "导入 1 行" in result.output
    assert db.scalars(select(PlatformEvent.deduction)).all() == [5.0]
    bad = tmp_path / "bonus.csv"
    bad.write_text("单位名称,科室,类型,级别,事项,日期\n县公安局,信访科,表彰,县级,事迹,2021-05-01\n", encoding="utf-8")
    result = runner.invoke(args=["import", "component", "bonus", str(bad)])
    assert result.exit_code == 1
    assert "第 2 行" in result.output and "D 列（级别）" in result.output
