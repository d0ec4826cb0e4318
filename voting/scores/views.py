"""The scores as the review office reads them (docs/rules.md §2): 日常评价, each section's
breakdown, 候选名单, 综合评价 with the decisions on the final lists, 单位考绩, the
Excel report, and the lists that go to the leaders as printable A4 documents
(/office/scores/print/…: title, issuing office, date, numbered tables, where the
figures come from, signature lines).

Every page shows the campaign as scored from the stored events (`campaign_scorecard`),
worked out again whenever anything it is scored from has changed (`ScoreCache`),
so a page can never show a score that the events no longer give. Units do not see
these pages: they hold every section's vote counts."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from scoring import columns as C
from scoring import labels as L
from scoring import reevaluation as R
from scoring.engine import Scorecard
from scoring.rounding import display_text
from voting.scores import charts
from voting.core import db
from voting.jobs import jobs
from voting import tasks
from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.forms import EmptyForm, Form
from voting.lists.models import Campaign, Result
from voting.scores import scorecards
from voting.scores.report import is_missing
from voting.jobs import views as job_views
from voting.web.common import ADMIN, OFFICE, current_campaign, local_time, reevaluation_of, scorecard
from voting.web.templating import code_label, score_filter

bp = Blueprint("scores", __name__, url_prefix="/office/scores")

NOT_LISTED = "none"  # the decision form's value for "on no list"


# ---- the tables -------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """A column of a sortable table: `key` is the record's field (also the `sort`
    parameter), `decimals` None for text and counts."""

    key: str
    header: str
    numeric: bool = True
    decimals: int | None = 2
    text: Callable[[dict], str] | None = None  # shown text for non-score columns


DAILY_COLUMNS = (
    Column("daily_rank", "排名", decimals=None),
    Column(C.UNIT, "单位", numeric=False),
    Column(C.SECTION, "科室", numeric=False),
    Column(C.VOTES_IN[C.H1], "上半年票数", decimals=None),
    Column(C.SERVICE_H1, "上半年"),
    Column(C.VOTES_IN[C.H2], "下半年票数", decimals=None),
    Column(C.SERVICE_H2, "下半年"),
    Column(C.SERVICE, "服务对象"),
    Column(C.PLATFORM_SCORE, "平台办理"),
    Column(C.SUPERVISOR, "主管单位", decimals=1),
    Column(C.INSPECTION, "监督检查"),
    Column(C.DAILY, "日常评价"),
    Column(C.SHORTLIST, "候选", numeric=False, text=lambda r: code_label(L.SHORTLISTS, r.get(C.SHORTLIST))),
)
FINAL_COLUMNS = (
    Column(C.TOTAL_RANK, "总排名", decimals=None),
    Column(C.UNIT, "单位", numeric=False),
    Column(C.SECTION, "科室", numeric=False),
    Column(C.SHORTLIST, "候选类别", numeric=False, text=lambda r: code_label(L.SHORTLISTS, r.get(C.SHORTLIST))),
    Column(C.DAILY, "日常评价"),
    Column(C.VOTES_IN[C.NET], "网络票数", decimals=None),
    Column(C.NETWORK, "网络评价"),
    Column(C.BONUS, "加分项"),
    Column(C.TOTAL, "总成绩"),
    Column(C.PROPOSED, "拟定", numeric=False, text=lambda r: code_label(L.RESULTS, r.get(C.PROPOSED))),
    Column(C.RESULT, "结果", numeric=False, text=lambda r: code_label(L.RESULTS, r.get(C.RESULT))),
)

UNIT_COLUMNS = (
    Column(C.UNIT, "单位", numeric=False),
    Column(C.N_SATISFIED, "满意单位", decimals=None),
    Column(C.N_UNSATISFIED, "不满意单位", decimals=None),
    Column(C.N_MOST_UNSATISFIED, "最不满意单位", decimals=None),
    Column(C.EFFECT, "考绩加减分", text=lambda r: ("+" if r[C.EFFECT] > 0 else "") + display_text(float(r[C.EFFECT]))),
    Column(C.TOP_TIER, "优秀档科室", decimals=None),
)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.reset_index(drop=True).to_dict("records")


def _sorted(records: list[dict], columns: tuple[Column, ...], default: str | None) -> tuple[list[dict], str | None, bool]:
    """The records sorted as the `sort` and `desc` query parameters ask (an unknown
    column: the default; no default: as they come); missing values last either way,
    ties in list order."""
    keys = {c.key: c for c in columns}
    column = keys.get(request.args.get("sort", "")) or keys.get(default or "")
    if column is None:
        return records, None, False
    desc = request.args.get("desc") == "1"

    def value(record: dict):
        v = record.get(column.key)
        if column.text is not None and not column.numeric:
            return column.text(record)
        return v

    present = [r for r in records if not is_missing(value(r)) and value(r) != ""]
    absent = [r for r in records if is_missing(value(r)) or value(r) == ""]
    if column.numeric:
        present.sort(key=lambda r: float(value(r)), reverse=desc)
    else:
        present.sort(key=lambda r: str(value(r)), reverse=desc)
    return present + absent, column.key, desc


def _card() -> tuple[Any, Scorecard]:
    campaign = current_campaign()
    return campaign, scorecard(campaign)


def _ties(card: Scorecard, stage: str) -> set[tuple[str, str]]:
    return {key for tie in card.ties if tie.stage == stage for key in tie.sections}


RESULT_CHOICES = [
    SelectChoice(C.SATISFIED, "满意单位"),
    SelectChoice(C.UNSATISFIED, "不满意单位"),
    SelectChoice(C.MOST_UNSATISFIED, "最不满意单位"),
    SelectChoice(NOT_LISTED, "不列入任何名单"),
]


class DecisionForm(Form):
    result = SelectField("评议结果", choices=RESULT_CHOICES)
    reason = TextAreaField(
        "理由（将与结果一并记录）",
        validators=[DataRequired("请填写理由（确认或调整评议结果都须记录理由）"), Length(max=2000, message="理由不超过 2000 字")],
    )


# ---- pages -----------------------------------------------------------------------------

@bp.get("/")
@roles_required(*OFFICE)
def daily():
    """日常评价: every section of the list, the daily-score distribution."""
    campaign, card = _card()
    sections = _records(card.sections)
    participating = [r for r in sections if not r[C.EXEMPT]]
    rows, sort, desc = _sorted(participating, DAILY_COLUMNS, C.DAILY_RANK)
    exempt = [r for r in sections if r[C.EXEMPT]]
    return render_template(
        "scores/scores_daily.html", campaign=campaign, card=card, rows=rows, exempt=exempt, columns=DAILY_COLUMNS,
        sort=sort, desc=desc, chart=charts.daily_distribution(card), ties=_ties(card, C.STAGE_SHORTLIST),
        daily_max=charts.highest_daily(card.settings),
        counts={code: sum(1 for r in sections if r[C.SHORTLIST] == code) for code in L.SHORTLISTS},
    )


@bp.get("/reevaluation")
@roles_required(*OFFICE)
def reevaluation_page():
    """复评: last year's 不满意单位 re-evaluated in June, each with its votes, rate and
    outcome against the pass rate."""
    campaign = current_campaign()
    found = reevaluation_of(campaign)
    return render_template("scores/reevaluation.html", campaign=campaign, found=found,
                           labels=R.OUTCOME_LABELS, decimals=2)


@bp.get("/sections/<int:section_id>")
@roles_required(*OFFICE)
def section(section_id: int):
    """One section's breakdown: every line that made each component, and why."""
    return _section_page(section_id)


def _section_page(section_id: int, form: DecisionForm | None = None, status: int = 200):
    campaign, card = _card()
    found = card.sections[card.sections["section_id"] == section_id]
    if found.empty:
        abort(404)
    row = _records(found)[0]
    lines = card.lines[(card.lines[C.UNIT] == row[C.UNIT]) & (card.lines[C.SECTION] == row[C.SECTION])]
    groups = []
    # The components, with the sums that make the daily score and the total where they
    # fall (their lines state each sum with its terms).
    for code in (C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.DAILY, C.NETWORK, C.BONUS, C.TOTAL):
        part = _records(lines[lines[C.COMPONENT] == code])
        if part or not is_missing(row.get(code)):
            groups.append({"code": code, "label": L.COMPONENTS[code], "score": row.get(code), "lines": part})
    can_decide = card.network_held and not is_missing(row.get(C.SHORTLIST)) and current_user.role in ADMIN
    if can_decide and form is None:
        current = row.get(C.RESULT)
        form = DecisionForm(formdata=None, result=NOT_LISTED if is_missing(current) else current)
    return render_template(
        "scores/scores_section.html", campaign=campaign, card=card, row=row, groups=groups,
        chart=charts.section_components(row, card.settings), decision=form if can_decide else None,
        undo=EmptyForm(formdata=None), recorded=scorecards.recorded_decision(get_session(), section_id),
        tie_messages=[t.message for t in card.ties if (row[C.UNIT], row[C.SECTION]) in t.sections],
        reevaluation_marks=reevaluation_of(campaign).marks(section_id) if row.get(C.PREVIOUS_UNSATISFIED) else [],
    ), status


@bp.get("/shortlist")
@roles_required(*OFFICE)
def shortlist():
    """候选名单: last year's 不满意单位, the satisfied and unsatisfied candidates, the
    cut-offs, and any tie the chain could not break."""
    campaign, card = _card()
    sections = _records(card.sections)
    by_rank = sorted((r for r in sections if not is_missing(r[C.SHORTLIST])), key=lambda r: int(r[C.DAILY_RANK]))
    groups = [
        (code, L.label(L.SHORTLISTS, code), [r for r in by_rank if r[C.SHORTLIST] == code])
        for code in (C.PREVIOUS_UNSATISFIED, C.SATISFIED_CANDIDATE, C.UNSATISFIED_CANDIDATE)
    ]
    return render_template(
        "scores/scores_shortlist.html", campaign=campaign, card=card, groups=groups, chart=charts.daily_distribution(card),
        ties=[t for t in card.ties if t.stage == C.STAGE_SHORTLIST], tied=_ties(card, C.STAGE_SHORTLIST),
        total=len(by_rank), fixed=scorecards.candidates_fixed(get_session(), campaign), action=EmptyForm(formdata=None),
        moved=[w for w in card.warnings if w.startswith("候选名单已确定")],
    )


@bp.post("/shortlist/fix")
@roles_required(*ADMIN)
def fix_shortlist():
    """Fix the candidate list before the online round: later corrections of daily
    figures change the scores, not the candidates."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = get_session()
    n = scorecards.fix_candidates(session, current_campaign(), current_user, actor=current_user.username)
    flash(f"已确定候选名单：{n} 个科室。此后日常评价数据的更正只影响得分，不再改变候选名单。", "info")
    return redirect(url_for(".shortlist"), 303)


@bp.post("/shortlist/unfix")
@roles_required(*ADMIN)
def unfix_shortlist():
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = get_session()
    scorecards.unfix_candidates(session, current_campaign(), actor=current_user.username)
    flash("已撤销候选名单，候选名单重新按日常评价产生。", "info")
    return redirect(url_for(".shortlist"), 303)


@bp.get("/final")
@roles_required(*OFFICE)
def final():
    """综合评价: the candidates by total, the proposed and decided lists."""
    campaign, card = _card()
    candidates = [r for r in _records(card.sections) if not is_missing(r[C.SHORTLIST])]
    rows, sort, desc = _sorted(candidates, FINAL_COLUMNS, C.TOTAL_RANK if card.network_held else C.DAILY)
    ranked = _records(charts.ranked_candidates(card))
    lists = {
        C.SATISFIED: [r for r in ranked if r[C.RESULT] == C.SATISFIED],
        C.UNSATISFIED: [r for r in ranked if r[C.RESULT] in (C.UNSATISFIED, C.MOST_UNSATISFIED)],
    }
    return render_template(
        "scores/scores_final.html", campaign=campaign, card=card, rows=rows, columns=FINAL_COLUMNS, sort=sort, desc=desc,
        lists=lists, chart=charts.final_ranking(card), ties=[t for t in card.ties if t.stage == C.STAGE_FINAL],
        tied=_ties(card, C.STAGE_FINAL),
    )


@bp.get("/units")
@roles_required(*OFFICE)
def units():
    """单位考绩: each parent unit's effect from its sections' results."""
    campaign, card = _card()
    # By default in the section list's own order of units.
    rows, sort, desc = _sorted(_records(card.units), UNIT_COLUMNS, None)
    return render_template(
        "scores/scores_units.html", campaign=campaign, card=card, rows=rows, columns=UNIT_COLUMNS, sort=sort, desc=desc,
    )


@bp.get("/report")
@roles_required(*OFFICE)
def report():
    """The Excel report of the campaign (the same as `pingyi bundle score`): the latest
    one made, and a button to make it afresh. Making it (scoring and writing about ten
    sheets with charts: a second and more at county size) is a background job
    (voting/tasks.py, report), whose page offers the file."""
    campaign = current_campaign()
    latest = jobs.latest(get_session(), tasks.REPORT, campaign.id)
    return render_template("scores/report.html", campaign=campaign, latest=latest,
                           latest_state=job_views.state(latest) if latest else None,
                           file=job_views.produced_file(latest) if latest else None, action=EmptyForm(formdata=None))


@bp.post("/report")
@roles_required(*OFFICE)
def make_report():
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = get_session()
    job = tasks.report_job(session, current_campaign(), current_user.username)
    db.after_commit(lambda: jobs.wake(current_app, job.id))
    return redirect(url_for("jobs.page", job_id=job.id), 303)


@bp.get("/report.xlsx")
@roles_required(*OFFICE)
def report_link():
    """The report's address before it became a job (bookmarks, old links)."""
    return redirect(url_for(".report"), 303)


# ---- printable documents for the leaders -----------------------------------------------

@dataclass(frozen=True)
class PrintTable:
    """One list of a printable document. `heading` is repeated above the header row on
    every printed page (a page torn off still says which list it is); `columns` are
    (header, numeric, width in % of the page) after the 序号 the template adds (5 %),
    so that the lists of one document line up; `rows` hold the shown text."""

    heading: str
    columns: tuple[tuple[str, bool, int], ...]
    rows: list[list[str]]


def _printed_card() -> tuple[Campaign, Scorecard, tuple[int, int]]:
    """The campaign, its scorecard, and the data version it is the scores of
    (`scorecards.score_version`: the audit log's latest entry, the platform's votes),
    read on both sides of the scorecard so that a write in between cannot put a version
    on paper that the figures are not of."""
    session = get_session()
    campaign = current_campaign()
    version = scorecards.score_version(session)
    for _ in range(3):
        card = scorecard(campaign)
        after = scorecards.score_version(session)
        if after == version:
            break
        version = after
    return campaign, card, version


def chinese_date(moment: datetime) -> str:
    """2026年12月6日, as a Chinese document is dated."""
    return f"{moment.year}年{moment.month}月{moment.day}日"


def _names(records: Iterable[dict], mark: Callable[[dict], str] = lambda r: "") -> str:
    return "、".join(f"{r[C.SECTION]}{mark(r)}" for r in records)


def _document(campaign: Campaign, version: tuple[int, int], title: str, back: str, tables: list[PrintTable],
              intro: Iterable[str] = (), notes: Iterable[str] = ()):
    now = datetime.now(ZoneInfo(current_app.config["TIMEZONE"]))
    head, votes = version
    return render_template(
        "scores/print_document.html", campaign=campaign, title=title, office=current_app.config["OFFICE_NAME"],
        date=chinese_date(now), produced=f"{chinese_date(now)} {now:%H:%M}", audit_head=head, votes=votes,
        tables=tables, intro=list(intro), notes=list(notes), back=url_for(back),
    )


def _daily_shown(r: dict) -> list[str]:
    return [score_filter(r[C.DAILY]), score_filter(r[C.DAILY_RANK], None)]


@bp.get("/print/shortlist")
@roles_required(*OFFICE)
def print_shortlist():
    """候选名单 for the leaders: each list by daily rank, with the cut-offs."""
    campaign, card, version = _printed_card()
    candidates = sorted((r for r in _records(card.sections) if not is_missing(r[C.SHORTLIST])),
                        key=lambda r: int(r[C.DAILY_RANK]))
    tied = _ties(card, C.STAGE_SHORTLIST)
    columns = (("单位", False, 18), ("科室", False, 25), ("日常评价", True, 9), ("日常排名", True, 9),
               ("服务对象", True, 9), ("监督检查", True, 9), ("平台办理", True, 9), ("备注", False, 7))
    tables = []
    for code in (C.PREVIOUS_UNSATISFIED, C.SATISFIED_CANDIDATE, C.UNSATISFIED_CANDIDATE):
        rows = [r for r in candidates if r[C.SHORTLIST] == code]
        tables.append(PrintTable(f"{L.label(L.SHORTLISTS, code)}（{len(rows)} 个）", columns, [
            [r[C.UNIT], r[C.SECTION], *_daily_shown(r), score_filter(r[C.SERVICE]), score_filter(r[C.INSPECTION]),
             score_filter(r[C.PLATFORM_SCORE]), "并列待裁定" if (r[C.UNIT], r[C.SECTION]) in tied else ""]
            for r in rows
        ]))
    s = card.settings
    cutoffs = "满意候选分数线（最低日常评价）{} 分，不满意候选分数线（最高日常评价）{} 分。".format(
        score_filter(card.cutoffs.get(C.SATISFIED_CANDIDATE)) or "—",
        score_filter(card.cutoffs.get(C.UNSATISFIED_CANDIDATE)) or "—")
    fixed = scorecards.candidates_fixed(get_session(), campaign)
    if fixed:
        at = local_time(fixed.fixed_at)
        status = f"候选名单已于 {at} 确定，此后日常评价数据的更正不再改变候选名单。"
    else:
        status = "候选名单尚未确定：按目前的日常评价产生，网络评价开始前由评议办确定。"
    intro = [
        f"共 {len(candidates)} 个科室。上年度不满意单位（含最不满意单位）直接列入；其余科室按日常评价，"
        f"最高的 {s.shortlist_satisfied} 个为满意候选，最低的 {s.shortlist_unsatisfied} 个为不满意候选。" + cutoffs,
        status,
    ]
    notes = [t.message for t in card.ties if t.stage == C.STAGE_SHORTLIST]
    return _document(campaign, version, f"{campaign.name}候选名单", ".shortlist", tables, intro, notes)


FINAL_LISTS = (C.SATISFIED, C.UNSATISFIED, C.MOST_UNSATISFIED)


@bp.get("/print/final")
@roles_required(*OFFICE)
def print_final():
    """拟定满意单位、不满意单位、最不满意单位: each list by total rank (as the review
    office decided where it did, the system's proposal beside it), and the candidates a
    decision took off every list."""
    campaign, card, version = _printed_card()
    s = card.settings
    title = f"{campaign.name}拟定满意单位、不满意单位和最不满意单位名单"
    intro = [
        f"候选科室按总成绩（日常评价 + 网络评价 + 加分项）排名：前 {s.final_satisfied} 名拟定为满意单位，"
        f"后 {s.final_unsatisfied} 名拟定为不满意单位，其中最后 {s.final_most_unsatisfied} 名为最不满意单位"
        "（下表“不满意单位”不含最不满意单位）。评议办确认或调整的，理由见备注。"
    ]
    if not card.network_held:
        intro.append("网络评价尚未进行：还没有总成绩和评议结果。")
        return _document(campaign, version, title, ".final", [], intro)
    ranked = _records(charts.ranked_candidates(card))
    columns = (("单位", False, 15), ("科室", False, 20), ("日常评价", True, 8), ("网络评价", True, 8),
               ("加分项", True, 7), ("总成绩", True, 8), ("总排名", True, 7), ("系统拟定", False, 10), ("备注", False, 12))

    def row(r: dict) -> list[str]:
        notes = [r[C.DECISION]] if not is_missing(r.get(C.DECISION)) and r[C.DECISION] else []
        notes += ["优秀档"] if _true(r.get(C.TOP_TIER)) else []
        notes += ["连续两年不满意"] if _true(r.get(C.TWO_YEARS_UNSATISFIED)) else []
        return [r[C.UNIT], r[C.SECTION], score_filter(r[C.DAILY]), score_filter(r[C.NETWORK]), score_filter(r[C.BONUS]),
                score_filter(r[C.TOTAL]), score_filter(r[C.TOTAL_RANK], None),
                code_label(L.RESULTS, r.get(C.PROPOSED)) or "不列入", "；".join(notes)]

    tables, notes = [], []
    wanted = {C.SATISFIED: s.final_satisfied, C.UNSATISFIED: s.final_unsatisfied - s.final_most_unsatisfied,
              C.MOST_UNSATISFIED: s.final_most_unsatisfied}
    for code in FINAL_LISTS:
        rows = [row(r) for r in ranked if r[C.RESULT] == code]
        tables.append(PrintTable(f"{L.label(L.RESULTS, code)}（{len(rows)} 个）", columns, rows))
        if len(rows) != wanted[code]:
            notes.append(f"{L.label(L.RESULTS, code)}现为 {len(rows)} 个，规则为 {wanted[code]} 个。")
    dropped = [row(r) for r in ranked if is_missing(r.get(C.RESULT)) and r.get(C.PROPOSED) in FINAL_LISTS]
    if dropped:
        tables.append(PrintTable(f"经评议办决定不列入名单（{len(dropped)} 个）", columns, dropped))
    notes += [t.message for t in card.ties if t.stage == C.STAGE_FINAL]
    return _document(campaign, version, title, ".final", tables, intro, notes)


@bp.get("/print/units")
@roles_required(*OFFICE)
def print_units():
    """单位考绩: each unit's listed sections by name, and its effect."""
    campaign, card, version = _printed_card()
    s = card.settings
    by_unit: dict[str, list[dict]] = {}
    for r in _records(card.sections):
        if r.get(C.RESULT) in FINAL_LISTS:
            by_unit.setdefault(r[C.UNIT], []).append(r)
    effect = next(c for c in UNIT_COLUMNS if c.key == C.EFFECT).text

    def top_tier(r: dict) -> str:
        return "（优秀档）" if _true(r.get(C.TOP_TIER)) else ""

    rows = []
    for u in _records(card.units):
        mine = by_unit.get(u[C.UNIT], [])
        rows.append([
            u[C.UNIT],
            _names((r for r in mine if r[C.RESULT] == C.SATISFIED), top_tier),
            _names(r for r in mine if r[C.RESULT] == C.UNSATISFIED),
            _names(r for r in mine if r[C.RESULT] == C.MOST_UNSATISFIED),
            effect(u),
        ])
    columns = (("单位", False, 20), ("满意单位科室", False, 23), ("不满意单位科室", False, 20),
               ("最不满意单位科室", False, 20), ("考绩加减分", True, 12))
    intro = [
        f"每个满意单位科室 {s.effect_satisfied:+g} 分，每个不满意单位科室 {s.effect_unsatisfied:+g} 分，"
        f"最不满意单位科室 {s.effect_most_unsatisfied:+g} 分（不再另扣），同一单位累加。"
        f"满意单位中总成绩前 {s.top_bonus_tier} 名的科室列入优秀档。"
    ]
    if not card.network_held:
        intro.append("网络评价尚未进行：还没有评议结果，各单位暂无加减分。")
    listed = sum(1 for u in rows if any(u[1:4]))
    tables = [PrintTable(f"各单位考绩（{len(rows)} 个单位，其中 {listed} 个有科室列入名单）", columns, rows)]
    return _document(campaign, version, f"{campaign.name}单位考绩表", ".units", tables, intro)


def _true(value: object) -> bool:
    return not is_missing(value) and bool(value)


# ---- the review office's decisions ------------------------------------------------------

@bp.post("/sections/<int:section_id>/decision")
@roles_required(*ADMIN)
def decide(section_id: int):
    """Confirm or override one section's proposed result, with the reason."""
    form = DecisionForm()
    if not form.validate_on_submit():
        return _section_page(section_id, form, 422)
    result = None if form.result.data == NOT_LISTED else Result(form.result.data)
    session = get_session()
    decision = scorecards.decide(session, current_campaign(), section_id, result, form.reason.data, current_user,
                                 actor=current_user.username)
    shown = result.label if result else "不列入任何名单"
    flash(f"已记录评议办决定：{decision.section.unit.name} {decision.section.name} → {shown}。", "info")
    return redirect(url_for(".section", section_id=section_id)), 303


@bp.post("/sections/<int:section_id>/decision/undo")
@roles_required(*ADMIN)
def undo(section_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = get_session()
    scorecards.undo_decision(session, current_campaign(), section_id, actor=current_user.username)
    flash("已撤销评议办决定，恢复为系统拟定结果。", "info")
    return redirect(url_for(".section", section_id=section_id)), 303
