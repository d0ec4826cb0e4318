"""The office's overview (概况): where the campaign stands in the workflow, what to do
next, and what is missing, by unit.

The workflow's stages, in order (README, "The workflow"): 名单 (the section list, earlier
years' results, the service-object lists), 调查 (the H1 survey round, in June the 复评 of
last year's 不满意单位 when there are any, and the H2 round), 评分 (the supervisor scores
and the other scoring components), 网络评价 (the fixed candidate list,
the online round) and 结果 (the published lists). Each stage is a list of steps, each
done or not with a sentence that says how far it got; the first step not done is the
next thing to do. Counted by the database, one query per kind of row.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from scoring import columns as C
from voting.schema import Base
from voting.components.models import BonusItem, InspectionEvent, PlatformEvent, SupervisorScore, VoteCount
from voting.lists.models import Campaign, HistoryResult, RoundKind, SectionList
from voting.survey.models import RoundStatus, SurveyRound
from voting.online import ballots
from voting.scores import scorecards
from voting.lists.history import section_statuses
from voting.survey.rounds import year_rounds


@dataclass
class Step:
    stage: str  # 名单，调查，评分，网络评价，结果
    title: str
    done: bool
    said: str  # how far it got, in numbers
    endpoint: str  # where to do it (a Flask endpoint)
    params: dict = field(default_factory=dict)


@dataclass
class UnitRow:
    unit: str
    unit_id: int
    sections: int  # taking part (not exempt)
    lists: dict[RoundKind, int]  # of those, with a list for the round
    supervisor: int  # of those, with a supervisor score
    # of those, owing a list for the round: all of them for H1 and H2, last year's
    # 不满意单位 for the 复评
    owed: dict[RoundKind, int] = field(default_factory=dict)

    def missing(self, kind: RoundKind) -> int:
        return self.owed.get(kind, 0) - self.lists[kind]


@dataclass
class Overview:
    steps: list[Step]
    units: list[UnitRow]

    @property
    def next_step(self) -> Step | None:
        return next((s for s in self.steps if not s.done), None)

    @property
    def stage(self) -> str:
        """The stage the campaign is in: that of the next step (结果 once all is done)."""
        return self.next_step.stage if self.next_step else "结果"


def _count(session: Session, model: type[Base], *where: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def overview(session: Session, campaign: Campaign, unit_id: int | None = None) -> Overview:
    """The steps and the per-unit table; with `unit_id` (a liaison), the table has that
    unit only and the steps are those a liaison does (the lists, the supervisor scores)."""
    statuses = section_statuses(session, campaign)
    taking_part = statuses[~statuses[C.EXEMPT]]
    ids = [int(i) for i in taking_part["id"]]
    listed = set(session.execute(select(SectionList.section_id, SectionList.round).where(
        SectionList.section_id.in_(ids))).all()) if ids else set()
    scored = set(session.scalars(select(SupervisorScore.section_id).where(SupervisorScore.section_id.in_(ids)))) if ids else set()
    units: dict[int, UnitRow] = {}
    for record in taking_part.to_dict("records"):
        row = units.setdefault(int(record["unit_id"]), UnitRow(record["unit"], int(record["unit_id"]), 0,
                                                               dict.fromkeys(RoundKind, 0), 0, dict.fromkeys(RoundKind, 0)))
        sid = int(record["id"])
        row.sections += 1
        for kind in RoundKind:
            if kind.scored or record[C.PREVIOUS_UNSATISFIED]:
                row.owed[kind] += 1
                row.lists[kind] += (sid, kind) in listed
        row.supervisor += sid in scored
    rows = [u for u in units.values() if unit_id is None or u.unit_id == unit_id]
    total = sum(u.sections for u in rows)
    steps: list[Step] = []
    if unit_id is None:
        steps.append(Step("名单", "导入参评科室名单", len(statuses) > 0,
                          f"共 {len(statuses)} 个科室，其中参加评议 {len(taking_part)} 个、免评 {len(statuses) - len(taking_part)} 个。",
                          "office.import_sections"))
        history = _count(session, HistoryResult, HistoryResult.year < campaign.year)
        steps.append(Step("名单", "导入往年评议结果", history > 0, f"已有往年结果 {history} 条（用于免评和上年不满意单位）。",
                          "office.import_history"))
    live = {r.kind: r for r in session.scalars(select(SurveyRound).where(
        SurveyRound.campaign_id == campaign.id, SurveyRound.status != RoundStatus.cancelled))}
    for kind in year_rounds(statuses):
        have, owed = sum(u.lists[kind] for u in rows), sum(u.owed[kind] for u in rows)
        lacking = [u for u in rows if u.missing(kind)]
        said = f"{have} / {owed} 个科室已报送{kind.value}轮服务对象名单"
        said += f"；{len(lacking)} 个单位尚有科室未报送。" if lacking else "。"
        steps.append(Step("名单", f"报送 {kind.value} 轮服务对象名单", owed > 0 and have == owed, said,
                          "office.import_objects"))
        if unit_id is None:
            survey = live.get(kind)
            state = survey.status.label if survey else "未建立"
            steps.append(Step("调查", f"{kind.value} 轮服务对象调查", survey is not None and survey.status is RoundStatus.closed,
                              f"{kind.value} 轮调查：{state}。", "rounds.detail" if survey else "rounds.index",
                              {"round_id": survey.id} if survey else {}))
    supervisor = sum(u.supervisor for u in rows)
    steps.append(Step("评分", "主管单位评价", total > 0 and supervisor == total,
                      f"{supervisor} / {total} 个科室已有主管单位评分。", "supervisor.index"))
    if unit_id is None:
        section_ids = taking_part["id"]
        counts = {label: _count(session, model, model.section_id.in_([int(i) for i in section_ids]))
                  for label, model in (("投票数", VoteCount), ("平台办理", PlatformEvent), ("监督检查", InspectionEvent),
                                       ("加分项", BonusItem))}
        steps.append(Step("评分", "评分数据（平台办理、监督检查、加分项）", True,
                          "已录入：" + "、".join(f"{k} {v} 条" for k, v in counts.items()) + "（没有的可以为 0）。",
                          "components.index"))
        fixed = scorecards.candidates_fixed(session, campaign) is not None
        steps.append(Step("网络评价", "确定候选名单", fixed, "候选名单已确定。" if fixed else "候选名单尚未确定。",
                          "scores.shortlist"))
        online = ballots.online_round(session, campaign)
        state = online.status.label if online else "未建立"
        steps.append(Step("网络评价", "网络评价", online is not None and online.status is RoundStatus.closed,
                          f"网络评价：{state}。", "online_monitor.monitor" if online else "online.index"))
        published = online is not None and online.published_at is not None
        steps.append(Step("结果", "公布评议结果", published, "评议结果已公布。" if published else "评议结果尚未公布。",
                          "online_monitor.monitor"))
    return Overview(steps, rows)
