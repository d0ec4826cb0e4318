"""The daily-stage components and the bonus (docs/rules.md §2), each a function of one
year's events for the participating sections.

Every function returns the component's score per section (indexed like `keys`) and
its explanation lines (UNIT, SECTION, COMPONENT, TEXT, POINTS, ROW): the points of a
section's lines for a component add up to its score, so a unit head can follow every
point from the base to the result (the service-object rounds return a little more, in
a `ServiceScores`: each round's figures, and their warnings). A line that computes its
points states the formula with the numbers in it ("即扣 1.5 × 5 ÷ 100 = 0.075 分"), so
that the review office can redo it by hand.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scoring import columns as C
from scoring import labels as L
from scoring.settings import RuleSettings
from scoring.votes import COUNTS, round_scores

LINE_COLUMNS = [C.UNIT, C.SECTION, C.COMPONENT, C.TEXT, C.POINTS, C.ROW]


def fmt(value: float) -> str:
    """A number in an explanation: no float noise, no trailing zeros."""
    return f"{round(float(value), 4):g}"


MINUS = "−"  # the minus sign of a formula in an explanation
# Up to this many terms a total is written out as a sum; past it, only the total (the
# terms are the lines just above).
SUM_TERMS = 10


def rate_formula(satisfied: int, basic: int, unsatisfied: int, points: float, settings: RuleSettings) -> str:
    """The rate × points formula of a round or of the network evaluation (README, "Scores
    and decisions") with its numbers: "(12 + 0.6 × 5) ÷ 20 × 15" (a weight of 1 left
    out)."""
    s = settings
    sat = f"{int(satisfied)}" if s.weight_satisfied == 1 else f"{fmt(s.weight_satisfied)} × {int(satisfied)}"
    votes = int(satisfied) + int(basic) + int(unsatisfied)
    return f"({sat} + {fmt(s.weight_basic)} × {int(basic)}) ÷ {votes} × {fmt(points)}"


def sum_text(terms, total: float) -> str:
    """A total written out with its terms (5 + 5 + 5 = 15 分), or alone (15 分) for a
    single term or a long list."""
    terms = list(terms)
    if 1 < len(terms) <= SUM_TERMS:
        return f"{' + '.join(fmt(t) for t in terms)} = {fmt(total)} 分"
    return f"{fmt(total)} 分"


def lines(keys: pd.Index, component: str, texts, points, rows=None) -> pd.DataFrame:
    """Explanation lines for the sections `keys` (a (unit, section) MultiIndex)."""
    frame = pd.DataFrame(
        {
            C.UNIT: keys.get_level_values(0),
            C.SECTION: keys.get_level_values(1),
            C.COMPONENT: component,
            C.TEXT: list(texts),
            C.POINTS: np.asarray(points, dtype=float),
            C.ROW: pd.array(rows if rows is not None else [pd.NA] * len(keys), dtype="Int64"),
        }
    )
    return frame


def _event_keys(events: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(events[[C.UNIT, C.SECTION]])


def _rows(events: pd.DataFrame):
    return events[C.ROW] if C.ROW in events.columns else None


def _per_section(values: pd.Series, events: pd.DataFrame, keys: pd.Index) -> pd.Series:
    summed = values.groupby([events[C.UNIT], events[C.SECTION]]).sum()
    return summed.reindex(keys, fill_value=0.0).astype(float)


def _terms(values: pd.Series, events: pd.DataFrame, mask: pd.Series) -> dict[tuple, list[float]]:
    """The nonzero `values` of the events in `mask`, per (unit, section), in event order:
    the terms of a total written out as a sum."""
    out: dict[tuple, list[float]] = {}
    for unit, section, value, counted in zip(events[C.UNIT], events[C.SECTION], values, mask):
        if counted and value:
            out.setdefault((unit, section), []).append(float(value))
    return out


def evaluation_window(year: int, settings: RuleSettings) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The case and bonus window: 1 Dec of the previous year to 30 Nov, both inclusive."""
    start = dt.date(year - 1, settings.window_start_month, settings.window_start_day)
    end = dt.date(year, settings.window_end_month, settings.window_end_day)
    return pd.Timestamp(start), pd.Timestamp(end)


def _in_window(dates: pd.Series, year: int, settings: RuleSettings) -> pd.Series:
    start, end = evaluation_window(year, settings)
    dates = pd.to_datetime(dates)
    return (dates >= start) & (dates <= end)


def _date_text(dates: pd.Series) -> list[str]:
    return list(pd.to_datetime(dates).dt.strftime("%Y-%m-%d").fillna(""))


# ---- 服务对象评价 --------------------------------------------------------------------

SERVICE_ROUNDS = (C.H1, C.H2)

# A note on some sections: (the sections, one message for all or one message each).
Note = tuple[pd.Index, str | list[str]]


@dataclass
class ServiceScores:
    """服务对象评价 of the participating sections (`service_scores`); every Series is
    indexed like `keys`, every dict keyed by round code (H1, H2)."""

    score: pd.Series  # the component: the two rounds' scores added
    rounds: dict[str, pd.Series]  # each round's score (blended where the rule says so)
    votes: dict[str, pd.Series]  # each section's number of votes in each round
    means: dict[str, float]  # each round's blending mean (NaN when nobody voted)
    lines: pd.DataFrame  # the explanation lines, H1's then H2's
    warnings: list[str]  # about the whole year: a round without any vote
    notes: list[Note]  # about single sections, in the order they arise


def service_scores(votes: pd.DataFrame, keys: pd.Index, settings: RuleSettings) -> ServiceScores:
    """服务对象评价 (docs/rules.md §2.3, §2.4): two rounds, 上半年 (H1) and 下半年 (H2),
    each scored by `scoring.votes.round_scores` (rate × 25; below 30 votes, blended
    with the round's mean; without votes, the mean itself), the two added up. When
    nobody voted in a round, every section scores 0 for it, with a warning for the year
    (docs/rules.md §2.18). `votes`: counts per UNIT, SECTION and ROUND (VOTES_S/B/U);
    rows of the online round are left out."""
    s = settings
    score = pd.Series(0.0, index=keys)
    rounds: dict[str, pd.Series] = {}
    counted: dict[str, pd.Series] = {}
    means: dict[str, float] = {}
    parts: list[pd.DataFrame] = []
    warnings: list[str] = []
    notes: list[Note] = []
    for rnd in SERVICE_ROUNDS:
        rows = votes[votes[C.ROUND] == rnd]
        counts = rows.groupby([C.UNIT, C.SECTION])[COUNTS].sum().reindex(keys, fill_value=0)
        result, mean = round_scores(counts, s)
        name = L.ROUND_NAMES[rnd]
        if np.isnan(mean):
            warnings.append(f"{name}服务对象评价没有任何投票，各科室该轮得 0 分")
            result["score"] = 0.0
            parts.append(lines(keys, C.SERVICE, [f"{name}服务对象评价：全县无投票，得 0 分"] * len(keys), [0.0] * len(keys)))
        else:
            parts += _round_lines(name, keys, counts, result, mean, s)
            notes += _round_notes(name, keys, result, s)
        rounds[rnd], counted[rnd], means[rnd] = result["score"], result["n"], mean
        score = score + result["score"]
    return ServiceScores(score, rounds, counted, means, pd.concat(parts, ignore_index=True), warnings, notes)


def _round_lines(
    name: str, keys: pd.Index, counts: pd.DataFrame, result: pd.DataFrame, mean: float, settings: RuleSettings
) -> list[pd.DataFrame]:
    """One round's lines, for a round with votes: each section's own score with its
    formula (a section without votes: the mean, with its sum), then, for a section
    below 30 votes, what the blending adds to its own score."""
    s = settings
    n = result["n"]
    voted = result["own"][n > 0]
    no_votes = (
        f"{name}服务对象评价：无投票，取有投票科室的平均分："
        f"得分之和 {fmt(math.fsum(voted))} ÷ 科室数 {len(voted)} = {fmt(mean)} 分"
    )
    texts = [
        f"{name}服务对象评价：满意 {a}、基本满意 {b}、不满意 {c}，共 {t} 票；"
        f"{rate_formula(a, b, c, s.service_round_points, s)} = {fmt(o)} 分"
        if t else no_votes
        for a, b, c, t, o in zip(counts[C.VOTES_S], counts[C.VOTES_B], counts[C.VOTES_U], n, result["own"])
    ]
    points = result["own"].where(n > 0, mean)
    parts = [lines(keys, C.SERVICE, texts, points.to_numpy())]
    blended = result["blended"]
    if blended.any():
        texts = [
            f"{name}不足 {s.blend_min_votes} 票：按 平均分 {fmt(mean)} × {fmt(s.blend_mean_share * 100)}% + "
            f"本科室 {fmt(o)} × {fmt(s.blend_own_share * 100)}% = {fmt(v)} 分计，"
            f"与本科室得分之差 {fmt(v)} {MINUS} {fmt(o)} = {fmt(v - o)} 分"
            for o, v in zip(result["own"][blended], result["score"][blended])
        ]
        adjust = (result["score"] - result["own"])[blended].to_numpy()
        parts.append(lines(keys[blended.to_numpy()], C.SERVICE, texts, adjust))
    return parts


def _round_notes(name: str, keys: pd.Index, result: pd.DataFrame, settings: RuleSettings) -> list[Note]:
    """One round's notes, for a round with votes: the sections blended (below 30
    votes) and the sections given the mean (no votes)."""
    n, blended = result["n"], result["blended"]
    notes: list[Note] = []
    if blended.any():
        messages = [f"{name}仅 {t} 票，不足 {settings.blend_min_votes} 票，按平均分折算" for t in n[blended]]
        notes.append((keys[blended.to_numpy()], messages))
    none = (n == 0).to_numpy()
    if none.any():
        notes.append((keys[none], f"{name}无投票，取参评科室平均分"))
    return notes


# ---- 平台办理 ------------------------------------------------------------------------

def _per_point(settings: RuleSettings) -> str:
    """How a 100-point deduction becomes points of the 5-point part: "5 ÷ 100"."""
    return f"{fmt(settings.platform_part_points)} ÷ {fmt(settings.platform_base)}"


def platform_scores(
    events: pd.DataFrame, keys: pd.Index, settings: RuleSettings
) -> tuple[pd.Series, pd.DataFrame]:
    """平台办理, two parts of 5.

    统一政务咨询投诉举报平台 (base 100): 作风投诉 deductions capped at 10, 办理评价
    deductions capped at 90, a co-handling (协办) section taking half of a 办理评价
    deduction; part = 5 × (100 − deductions) / 100. 网络监督投诉平台: 5 − 1 per valid
    complaint, floor 0."""
    s = settings
    part = s.platform_part_points
    hot = events[C.PLATFORM] == C.HOTLINE
    conduct = hot & (events[C.ITEM] == C.CONDUCT)
    handling = hot & (events[C.ITEM] == C.HANDLING)
    co = events[C.ROLE] == C.CO
    effective = events[C.DEDUCTION].astype(float) * np.where(handling & co, s.cohandling_share, 1.0)

    conduct_sum = _per_section(effective.where(conduct, 0.0), events, keys)
    handling_sum = _per_section(effective.where(handling, 0.0), events, keys)
    net_sum = _per_section(effective.where(~hot, 0.0), events, keys)
    conduct_capped = conduct_sum.clip(upper=s.conduct_cap)
    handling_capped = handling_sum.clip(upper=s.handling_cap)
    hotline = part * (s.platform_base - conduct_capped - handling_capped) / s.platform_base
    network = (s.network_supervision_points - net_sum).clip(lower=0.0)
    score = hotline + network

    explained = [
        *_platform_base_lines(keys, s),
        _platform_event_lines(events, effective, hot, s),
        *_hotline_cap_lines(keys, events, effective, conduct, conduct_sum, s.conduct_cap, C.CONDUCT, s),
        *_hotline_cap_lines(keys, events, effective, handling, handling_sum, s.handling_cap, C.HANDLING, s),
        *_network_floor_lines(keys, events, effective, ~hot, net_sum, s),
    ]
    return score, pd.concat(explained, ignore_index=True)


def _platform_base_lines(keys: pd.Index, settings: RuleSettings) -> list[pd.DataFrame]:
    """Every section's two base scores, one line per platform."""
    s = settings
    part = s.platform_part_points
    return [
        lines(keys, C.PLATFORM_SCORE, [f"统一政务咨询投诉举报平台基础分 {fmt(part)} 分（百分制 {fmt(s.platform_base)} 分）"] * len(keys), [part] * len(keys)),
        lines(keys, C.PLATFORM_SCORE, [f"网络监督投诉平台基础分 {fmt(s.network_supervision_points)} 分"] * len(keys), [s.network_supervision_points] * len(keys)),
    ]


def _platform_event_lines(
    events: pd.DataFrame, effective: pd.Series, hot: pd.Series, settings: RuleSettings
) -> pd.DataFrame:
    """One line per deduction, before any cap: a hotline deduction (on its 100-point
    scale, halved for a co-handler) converted into points of the 5-point part; a network
    supervision deduction as it is."""
    s = settings
    per_point = s.platform_part_points / s.platform_base  # a 100-point deduction's worth in the part
    texts = []
    points = np.where(hot, -effective * per_point, -effective)
    for platform, item, role, raw, eff in zip(
        events[C.PLATFORM], events[C.ITEM], events[C.ROLE], events[C.DEDUCTION], effective
    ):
        name = f"{L.label(L.PLATFORMS, platform)}平台 {L.label(L.ITEMS, item)}"
        if platform == C.HOTLINE:
            text = f"{name}扣 {fmt(raw)} 分"
            if item == C.HANDLING and role == C.CO:
                halved = "协办减半为" if s.cohandling_share == 0.5 else "协办按"
                text += f"，{halved} {fmt(raw)} × {fmt(s.cohandling_share)} = {fmt(eff)} 分"
            text += f"（百分制），即扣 {fmt(eff)} × {_per_point(s)} = {fmt(eff * per_point)} 分"
        else:
            text = f"{name}扣 {fmt(raw)} 分"
        texts.append(text)
    return lines(_event_keys(events), C.PLATFORM_SCORE, texts, points, _rows(events))


def _hotline_cap_lines(
    keys: pd.Index, events: pd.DataFrame, effective: pd.Series, mask: pd.Series, total: pd.Series, cap: float,
    item: str, settings: RuleSettings,
) -> list[pd.DataFrame]:
    """The points given back to the sections whose hotline deductions of one `item`
    (the events in `mask`, `total` per section) exceed its `cap`: no line when none do."""
    s = settings
    per_point = s.platform_part_points / s.platform_base
    over = total > cap
    if not over.any():
        return []
    k = keys[over.to_numpy()]
    terms = _terms(effective, events, mask)
    texts = [
        f"{L.label(L.PLATFORMS, C.HOTLINE)}平台 {L.label(L.ITEMS, item)}合计扣 {sum_text(terms.get(key, []), t)}（百分制），"
        f"超过上限 {fmt(cap)} 分，按 {fmt(cap)} 分计，"
        f"加回 ({fmt(t)} {MINUS} {fmt(cap)}) × {_per_point(s)} = {fmt((t - cap) * per_point)} 分"
        for key, t in zip(k, total[over])
    ]
    return [lines(k, C.PLATFORM_SCORE, texts, ((total - total.clip(upper=cap))[over] * per_point).to_numpy())]


def _network_floor_lines(
    keys: pd.Index, events: pd.DataFrame, effective: pd.Series, mask: pd.Series, total: pd.Series,
    settings: RuleSettings,
) -> list[pd.DataFrame]:
    """The points given back to the sections whose network supervision deductions (the
    events in `mask`, `total` per section) exceed the part's points, which floor at 0:
    no line when none do."""
    full = settings.network_supervision_points
    floored = total > full
    if not floored.any():
        return []
    k = keys[floored.to_numpy()]
    terms = _terms(effective, events, mask)
    texts = [
        f"{L.label(L.PLATFORMS, C.SUPERVISION_NET)}平台合计扣 {sum_text(terms.get(key, []), t)}，超过基础分 {fmt(full)} 分，最低 0 分，"
        f"加回 {fmt(t)} {MINUS} {fmt(full)} = {fmt(t - full)} 分"
        for key, t in zip(k, total[floored])
    ]
    return [lines(k, C.PLATFORM_SCORE, texts, (total - full)[floored].to_numpy())]


# ---- 监督检查 ------------------------------------------------------------------------

_PROBLEM_POINTS = {C.COUNTY: "inspection_county", C.CITY_LEVEL: "inspection_city", C.VERIFIED_COMPLAINT: "inspection_complaint"}
_CASE_POINTS = {
    (C.PRINCIPAL, True): "case_principal",
    (C.DEPUTY, True): "case_deputy",
    (C.STAFF, True): "case_staff",
    (C.COLLECTIVE, True): "case_collective",
    (C.PRINCIPAL, False): "case_earlier_principal",
    (C.DEPUTY, False): "case_earlier_deputy",
    (C.STAFF, False): "case_earlier_staff",
    (C.COLLECTIVE, False): "case_earlier_collective",
}


def _optional(events: pd.DataFrame, column: str, empty: object) -> list:
    """An optional column's values (`empty` for every event when the frame lacks it)."""
    if column not in events.columns:
        return [empty] * len(events)
    return [empty if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in events[column]]


def _office_deduction(kind: str, deduction: Any, reason: str, missing: str, date: str,
                      settings: RuleSettings) -> tuple[float, str]:
    """A deduction the review office records for a unit (docs/rules.md §2.7), outside the
    case window: 应报未报 costs `unreported_deduction` to every section of the unit (this
    event is one of them), 影响评议工作 the points recorded with it."""
    because = f"（事由：{reason}）" if reason else ""
    if kind == C.UNREPORTED:
        points = settings.unreported_deduction
        found = f"，{date} 发现并补录参评" if date else "，已补录参评"
        return points, (
            f"应报未报：本单位科室“{missing}”应报未报{found}，本单位各参评科室扣 {fmt(points)} 分{because}"
        )
    points = float(deduction)
    on = f"（{date}）" if date else ""
    return points, f"影响评议工作{on}：因参评单位原因导致评议工作受到影响，扣 {fmt(points)} 分{because}"


def inspection_deductions(events: pd.DataFrame, year: int, settings: RuleSettings) -> tuple[pd.Series, list[str]]:
    """Each event's deduction and its explanation. A verified problem costs 1 (county),
    2 (city) or 1 (complaint), doubled when serious; a case (立案查处) filed in the case
    window costs 20 / 10 / 5 / 20 (principal, deputy, other staff, the section) for
    conduct in the evaluation year, 6 / 4 / 2 / 10 for earlier conduct; a case filed
    outside the window costs nothing. The review office's own deductions: 应报未报 costs
    `unreported_deduction` (1) to each section of the unit, 影响评议工作 the points recorded
    (C.DEDUCTION); neither depends on the window."""
    s = settings
    in_window = _in_window(events[C.DATE], year, settings).to_numpy()
    dates = _date_text(events[C.DATE])
    deductions = _optional(events, C.DEDUCTION, None)
    reasons = _optional(events, C.REASON, "")
    missing = _optional(events, C.MISSING, "")
    values, texts = [], []
    for i, (kind, serious, person, current) in enumerate(
        zip(events[C.KIND], events[C.SERIOUS], events[C.PERSON], events[C.CURRENT_YEAR])
    ):
        label = L.label(L.INSPECTION_KINDS, kind)
        if kind in L.OFFICE_DEDUCTIONS:
            value, text = _office_deduction(kind, deductions[i], str(reasons[i]), str(missing[i]), dates[i], s)
            values.append(value)
            texts.append(text)
            continue
        if kind == C.CASE:
            who = L.label(L.PERSONS, person)
            when = "本年度" if current else "以前年度"
            points = getattr(s, _CASE_POINTS[(person, bool(current))])
            if not in_window[i]:
                values.append(0.0)
                start, end = evaluation_window(year, settings)
                texts.append(
                    f"立案查处（{who}，{when}问题，立案日期 {dates[i]}）不在统计期 "
                    f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d} 内，不扣分"
                )
                continue
            values.append(points)
            texts.append(f"立案查处：{who}，{when}问题，立案日期 {dates[i]}，扣 {fmt(points)} 分")
        else:
            points = getattr(s, _PROBLEM_POINTS[kind])
            if serious:
                factor = s.inspection_serious_factor
                values.append(points * factor)
                texts.append(f"{label}问题（情节严重，按 {fmt(factor)} 倍计）：扣 {fmt(points)} × {fmt(factor)} = {fmt(points * factor)} 分")
            else:
                values.append(points)
                texts.append(f"{label}问题扣 {fmt(points)} 分")
    return pd.Series(values, index=events.index, dtype=float), texts


def inspection_scores(
    events: pd.DataFrame, keys: pd.Index, year: int, settings: RuleSettings
) -> tuple[pd.Series, pd.DataFrame]:
    """监督检查: 20 minus the deductions, floor 0."""
    full = settings.inspection_points
    deductions, texts = inspection_deductions(events, year, settings)
    total = _per_section(deductions, events, keys)
    score = (full - total).clip(lower=0.0)
    parts = [
        lines(keys, C.INSPECTION, [f"监督检查基础分 {fmt(full)} 分"] * len(keys), [full] * len(keys)),
        lines(_event_keys(events), C.INSPECTION, texts, -deductions.to_numpy(), _rows(events)),
    ]
    floored = total > full
    if floored.any():
        k = keys[floored.to_numpy()]
        terms = _terms(deductions, events, pd.Series(True, index=events.index))
        texts = [
            f"监督检查合计扣 {sum_text(terms.get(key, []), t)}，超过基础分 {fmt(full)} 分，最低 0 分，"
            f"加回 {fmt(t)} {MINUS} {fmt(full)} = {fmt(t - full)} 分"
            for key, t in zip(k, total[floored])
        ]
        parts.append(lines(k, C.INSPECTION, texts, (total - full)[floored].to_numpy()))
    return score, pd.concat(parts, ignore_index=True)


# ---- 加分项 --------------------------------------------------------------------------

_BONUS_POINTS = {
    (C.COMMENDATION, C.NATIONAL): "bonus_national",
    (C.COMMENDATION, C.PROVINCIAL): "bonus_provincial",
    (C.COMMENDATION, C.CITY): "bonus_city",
    (C.PUBLICITY, C.CENTRAL): "publicity_central",
    (C.PUBLICITY, C.PROVINCIAL): "publicity_provincial",
    (C.PUBLICITY, C.CITY): "publicity_city",
}


def bonus_scores(
    events: pd.DataFrame, keys: pd.Index, year: int, settings: RuleSettings
) -> tuple[pd.Series, pd.DataFrame]:
    """加分项: commendation 5 / 3 / 1 (national, provincial or ministerial, city or
    department), publicity 3 / 2 / 0.5 (central, provincial, city media); the same deed
    or item counts once at its highest level; only items dated in the bonus window
    count; the total is capped at 5."""
    s = settings
    value = pd.Series(
        [getattr(s, _BONUS_POINTS[(k, lv)]) for k, lv in zip(events[C.KIND], events[C.LEVEL])],
        index=events.index,
        dtype=float,
    )
    inside = _in_window(events[C.DATE], year, settings)
    counted = value.where(inside, -1.0)
    # One item per (section, kind, matter), at its highest in-window level; the first
    # such row (in date order, then row order) is the one that counts.
    order = events.assign(_v=counted).sort_values(
        [C.UNIT, C.SECTION, C.KIND, C.MATTER, "_v", C.DATE], ascending=[True, True, True, True, False, True], kind="stable"
    )
    best = ~order.duplicated([C.UNIT, C.SECTION, C.KIND, C.MATTER])
    counts_mask = pd.Series(False, index=events.index)
    counts_mask[order.index[best.to_numpy() & (order["_v"] > 0).to_numpy()]] = True
    points = value.where(counts_mask, 0.0)
    total = _per_section(points, events, keys)
    score = total.clip(upper=s.bonus_cap)

    start, end = evaluation_window(year, settings)
    dates = _date_text(events[C.DATE])
    texts = []
    for kind, level, matter, date, is_inside, counts, points_i in zip(
        events[C.KIND], events[C.LEVEL], events[C.MATTER], dates, inside.to_numpy(), counts_mask.to_numpy(), value.to_numpy()
    ):
        what = f"{L.label(L.BONUS_KINDS, kind)}（{L.label(L.BONUS_LEVELS[kind], level)}）“{matter}”，{date}"
        if not is_inside:
            texts.append(f"{what}：不在加分期限 {start:%Y-%m-%d} 至 {end:%Y-%m-%d} 内，不加分")
        elif counts:
            texts.append(f"{what}：加 {fmt(points_i)} 分")
        else:
            texts.append(f"{what}：同一事项已按最高级别计分，不重复加分")
    parts = [lines(_event_keys(events), C.BONUS, texts, points.to_numpy(), _rows(events))]
    over = total > s.bonus_cap
    if over.any():
        k = keys[over.to_numpy()]
        terms = _terms(points, events, counts_mask)
        cap = s.bonus_cap
        texts = [
            f"加分合计 {sum_text(terms.get(key, []), t)}，超过上限 {fmt(cap)} 分，按 {fmt(cap)} 分计，"
            f"减去 {fmt(t)} {MINUS} {fmt(cap)} = {fmt(t - cap)} 分"
            for key, t in zip(k, total[over])
        ]
        parts.append(lines(k, C.BONUS, texts, (cap - total)[over].to_numpy()))
    return score, pd.concat(parts, ignore_index=True)
