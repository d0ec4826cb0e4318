"""One year's scoring from end to end (SPEC §2): the composition of the rule functions.

`score_year(inputs, settings)` is the one entry point the platform, the offline bundle
and the benchmark call. It is pure: frames in, a `Scorecard` out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scoring import columns as C
from scoring import labels as L
from scoring.components import (
    LINE_COLUMNS,
    MINUS,
    bonus_scores,
    fmt,
    inspection_scores,
    lines,
    platform_scores,
    rate_formula,
)
from scoring.history import history_flags
from scoring.ranking import cut, order, split_shortlist
from scoring.rounding import competition_rank, display_text
from scoring.settings import RuleSettings
from scoring.supervisor import tier_text
from scoring.votes import COUNTS, network_scores, round_scores, tally


@dataclass
class YearInputs:
    """Everything one year's scoring reads. Event frames may be empty (no events of
    that kind) and may carry `C.ROW` (quoted in explanations)."""

    year: int
    sections: pd.DataFrame  # UNIT, SECTION
    history: pd.DataFrame  # YEAR, UNIT, SECTION, RESULT
    votes: pd.DataFrame  # UNIT, SECTION, ROUND, VOTES_S/B/U (counts) — see scoring.votes.tally
    platform: pd.DataFrame  # UNIT, SECTION, PLATFORM, ITEM, DEDUCTION, ROLE
    supervisor: pd.DataFrame  # UNIT, SECTION, SCORE
    inspection: pd.DataFrame  # UNIT, SECTION, KIND, SERIOUS, PERSON, CURRENT_YEAR, DATE
    bonus: pd.DataFrame  # UNIT, SECTION, KIND, LEVEL, MATTER, DATE
    # The review office's decisions on the final lists: UNIT, SECTION, RESULT (a result
    # code, or None to take the section off every list), TEXT (the recorded reason).
    decisions: pd.DataFrame | None = None
    # The candidate list as the review office fixed it (UNIT, SECTION, SHORTLIST), or
    # None to shortlist from the daily scores. Once the online round has begun its
    # candidates must not move when a daily-stage figure is corrected.
    candidates: pd.DataFrame | None = None


@dataclass(frozen=True)
class Tie:
    """Sections that the whole tie-break chain cannot separate at a cut-off."""

    stage: str  # C.STAGE_SHORTLIST or C.STAGE_FINAL
    list: str  # the list whose cut-off it is (a SHORTLIST or RESULT code)
    position: int  # the cut-off: the list's intended length
    sections: tuple[tuple[str, str], ...]  # (unit, section)
    message: str  # Chinese, for the review office


@dataclass
class Scorecard:
    year: int
    settings: RuleSettings
    # One row per section of the list, in the list's order. Scores are unrounded floats
    # (NaN where not applicable: exempt sections, network outside the shortlist or
    # before the online round). Columns: UNIT, SECTION, EXEMPT, PREVIOUS_UNSATISFIED,
    # SERVICE_H1, SERVICE_H2, SERVICE, PLATFORM_SCORE, SUPERVISOR, INSPECTION, DAILY,
    # NETWORK, BONUS, TOTAL, DAILY_RANK, TOTAL_RANK, SHORTLIST, PROPOSED, RESULT,
    # TOP_TIER, TWO_YEARS_UNSATISFIED, DECISION, WARNINGS, and the number of votes
    # per round (C.VOTES_IN).
    sections: pd.DataFrame
    # Explanations: UNIT, SECTION, COMPONENT, TEXT, POINTS, ROW — every line that made
    # a section's score, in reading order. A section's lines of one component add up to
    # that component's score; DAILY and TOTAL have one line each (their sum formula,
    # POINTS the score itself), so all of a section's lines together do not add up to
    # anything.
    lines: pd.DataFrame
    # Parent-unit effects: UNIT, N_SATISFIED, N_UNSATISFIED, N_MOST_UNSATISFIED,
    # EFFECT, TOP_TIER (count of the unit's sections in the 优秀 tier).
    units: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    ties: list[Tie] = field(default_factory=list)
    # Round means used by the sub-30 blending, by round code (NaN without votes).
    round_means: dict[str, float] = field(default_factory=dict)
    # Daily-score cut-offs of the shortlist: the lowest satisfied candidate's and the
    # highest unsatisfied candidate's daily score (NaN if that list is empty).
    cutoffs: dict[str, float] = field(default_factory=dict)
    network_held: bool = False




class InputError(ValueError):
    """Inputs that cannot be scored: `problems` are (row or None, Chinese message) in
    the input frame named `source` ("sections", "votes", "decisions" …)."""

    def __init__(self, source: str, problems: list[tuple[int | None, str]]):
        self.source = source
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


_EVENT_COLUMNS = {
    "votes": [C.UNIT, C.SECTION, C.ROUND, *COUNTS],
    "platform": [C.UNIT, C.SECTION, C.PLATFORM, C.ITEM, C.DEDUCTION, C.ROLE],
    "supervisor": [C.UNIT, C.SECTION, C.SCORE],
    "inspection": [C.UNIT, C.SECTION, C.KIND, C.SERIOUS, C.PERSON, C.CURRENT_YEAR, C.DATE],
    "bonus": [C.UNIT, C.SECTION, C.KIND, C.LEVEL, C.MATTER, C.DATE],
}
_SOURCE_LABELS = {"votes": "投票", "platform": "平台办理", "supervisor": "主管单位评分", "inspection": "监督检查", "bonus": "加分项"}
ROUND_LABELS = {C.H1: "上半年", C.H2: "下半年"}


def _events(frame: pd.DataFrame | None, source: str) -> pd.DataFrame:
    """The frame with every expected column (an absent frame is an empty one)."""
    columns = _EVENT_COLUMNS[source]
    if frame is None:
        frame = pd.DataFrame(columns=columns)
    if source == "votes":
        if C.CHOICE in frame.columns:
            frame = tally(frame)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(source, [(None, f"缺少列 {', '.join(missing)}")])
    frame = frame.reset_index(drop=True)
    if C.DATE in columns:
        frame[C.DATE] = pd.to_datetime(frame[C.DATE])
    return frame


class _Notes:
    """Warnings per section, in the order they arise."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], list[str]] = {}

    def add(self, keys, message) -> None:
        messages = message if isinstance(message, list) else [message] * len(keys)
        for key, text in zip(keys, messages):
            self.by_key.setdefault(tuple(key), []).append(text)


def _name(key) -> str:
    return f"{key[0]} {key[1]}"


def score_year(inputs: YearInputs, settings: RuleSettings) -> Scorecard:
    """Score one year: every component, the daily score, the shortlist, the online
    round, the total, the proposed and decided lists, the parent-unit effects."""
    s = settings
    year = inputs.year
    warnings: list[str] = []
    notes = _Notes()
    ties = []

    sections = inputs.sections[[C.UNIT, C.SECTION]].reset_index(drop=True)
    all_keys = pd.MultiIndex.from_frame(sections)
    if all_keys.has_duplicates:
        dup = all_keys[all_keys.duplicated()]
        raise InputError("sections", [(None, f"科室重复：{_name(k)}") for k in dup])
    flags = history_flags(sections, inputs.history, year, s).set_index([C.UNIT, C.SECTION])
    exempt = flags[C.EXEMPT]
    keys = all_keys[~exempt.to_numpy()]  # the participating sections
    out = pd.DataFrame(index=all_keys)
    out[C.EXEMPT] = exempt
    out[C.PREVIOUS_UNSATISFIED] = flags[C.PREVIOUS_UNSATISFIED]

    frames = {}
    for source in _EVENT_COLUMNS:
        frame = _events(getattr(inputs, source), source)
        where = pd.MultiIndex.from_frame(frame[[C.UNIT, C.SECTION]]) if len(frame) else all_keys[:0]
        unknown = ~where.isin(all_keys)
        if unknown.any():
            for i in frame.index[unknown]:
                row = frame.at[i, C.ROW] if C.ROW in frame.columns else None
                at = f"第 {row} 行" if row is not None and not pd.isna(row) else ""
                warnings.append(f"{_SOURCE_LABELS[source]}{at}的 {frame.at[i, C.UNIT]} {frame.at[i, C.SECTION]} 不在参评科室名单中，已忽略")
        of_exempt = where.isin(all_keys[exempt.to_numpy()])
        if of_exempt.any():
            for key in sorted(set(where[of_exempt])):
                warnings.append(f"{_name(key)} 免评，其{_SOURCE_LABELS[source]}数据不计")
        frames[source] = frame[~unknown & ~of_exempt].reset_index(drop=True)
    lines_parts: list[pd.DataFrame] = []

    # ---- 服务对象评价 (two rounds with the sub-30 blending)
    votes = frames["votes"]
    round_means = {}
    service = pd.Series(0.0, index=keys)
    for rnd in (C.H1, C.H2):
        rows = votes[votes[C.ROUND] == rnd]
        counts = rows.groupby([C.UNIT, C.SECTION])[COUNTS].sum().reindex(keys, fill_value=0)
        result, mean = round_scores(counts, s)
        round_means[rnd] = mean
        name = ROUND_LABELS[rnd]
        n = result["n"]
        out.loc[keys, C.VOTES_IN[rnd]] = n
        if np.isnan(mean):
            warnings.append(f"{name}服务对象评价没有任何投票，各科室该轮得 0 分")
            result["score"] = 0.0
            lines_parts.append(lines(keys, C.SERVICE, [f"{name}服务对象评价：全县无投票，得 0 分"] * len(keys), [0.0] * len(keys)))
        else:
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
            lines_parts.append(lines(keys, C.SERVICE, texts, points.to_numpy()))
            blended = result["blended"]
            if blended.any():
                k = keys[blended.to_numpy()]
                texts = [
                    f"{name}不足 {s.blend_min_votes} 票：按 平均分 {fmt(mean)} × {fmt(s.blend_mean_share * 100)}% + "
                    f"本科室 {fmt(o)} × {fmt(s.blend_own_share * 100)}% = {fmt(v)} 分计，"
                    f"与本科室得分之差 {fmt(v)} {MINUS} {fmt(o)} = {fmt(v - o)} 分"
                    for o, v in zip(result["own"][blended], result["score"][blended])
                ]
                lines_parts.append(lines(k, C.SERVICE, texts, (result["score"] - result["own"])[blended].to_numpy()))
                notes.add(k, [f"{name}仅 {t} 票，不足 {s.blend_min_votes} 票，按平均分折算" for t in n[blended]])
            none = (n == 0).to_numpy()
            if none.any():
                notes.add(keys[none], f"{name}无投票，取参评科室平均分")
        out.loc[keys, f"service_{rnd.lower()}"] = result["score"]
        service = service + result["score"]
    out.loc[keys, C.SERVICE] = service

    # ---- 平台办理，主管单位评价，监督检查，加分项
    platform, platform_lines = platform_scores(frames["platform"], keys, s)
    out.loc[keys, C.PLATFORM_SCORE] = platform
    lines_parts.append(platform_lines)

    sup = frames["supervisor"]
    dup = sup.duplicated([C.UNIT, C.SECTION])
    if dup.any():
        raise InputError("supervisor", [(sup.at[i, C.ROW] if C.ROW in sup else None, f"{sup.at[i, C.UNIT]} {sup.at[i, C.SECTION]} 有两个主管单位评分") for i in sup.index[dup]])
    supervisor = sup.set_index([C.UNIT, C.SECTION])[C.SCORE].astype(float).reindex(keys)
    missing_sup = supervisor.isna()
    supervisor = supervisor.fillna(0.0)
    out.loc[keys, C.SUPERVISOR] = supervisor
    texts = [f"主管单位评分 {fmt(v)} 分（{tier_text(v, s)}）" if not m else "未提交主管单位评分，按 0 分计" for v, m in zip(supervisor, missing_sup)]
    lines_parts.append(lines(keys, C.SUPERVISOR, texts, supervisor.to_numpy()))
    if missing_sup.any():
        notes.add(keys[missing_sup.to_numpy()], "未提交主管单位评分，按 0 分计")

    inspection, inspection_lines = inspection_scores(frames["inspection"], keys, year, s)
    out.loc[keys, C.INSPECTION] = inspection
    lines_parts.append(inspection_lines)

    daily = service + platform + supervisor + inspection
    out.loc[keys, C.DAILY] = daily
    parts = {
        f"{ROUND_LABELS[C.H1]}{L.COMPONENTS[C.SERVICE]}": out.loc[keys, C.SERVICE_H1],
        f"{ROUND_LABELS[C.H2]}{L.COMPONENTS[C.SERVICE]}": out.loc[keys, C.SERVICE_H2],
        **{L.COMPONENTS[c]: out.loc[keys, c] for c in (C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION)},
    }
    lines_parts.append(lines(keys, C.DAILY, _sum_texts(L.COMPONENTS[C.DAILY], parts, daily), daily.to_numpy()))
    out[C.DAILY_RANK] = competition_rank(out[C.DAILY], s.rank_decimals)

    bonus, bonus_lines = bonus_scores(frames["bonus"], keys, year, s)
    out.loc[keys, C.BONUS] = bonus

    # ---- 候选名单
    participating = out.loc[keys]
    previous = participating[participating[C.PREVIOUS_UNSATISFIED].astype(bool)]
    rest = participating.drop(previous.index)
    n_sat, n_unsat = split_shortlist(len(rest), s.shortlist_satisfied, s.shortlist_unsatisfied)
    if n_sat + n_unsat < s.shortlist_satisfied + s.shortlist_unsatisfied:
        warnings.append(
            f"参评科室不足：除上年不满意单位外只有 {len(rest)} 个科室，"
            f"候选名单为满意候选 {n_sat} 个、不满意候选 {n_unsat} 个"
        )
    top = cut(order(rest, C.DAILY, True, s.rank_decimals), n_sat, include_ties=True)
    remaining = rest.drop(top.chosen)
    bottom = cut(order(remaining, C.DAILY, False, s.rank_decimals), n_unsat, include_ties=False)
    out[C.SHORTLIST] = None
    out.loc[previous.index, C.SHORTLIST] = C.PREVIOUS_UNSATISFIED
    out.loc[top.chosen, C.SHORTLIST] = C.SATISFIED_CANDIDATE
    out.loc[bottom.chosen, C.SHORTLIST] = C.UNSATISFIED_CANDIDATE
    for found, list_code, k, placed in (
        (top, C.SATISFIED_CANDIDATE, n_sat, "已全部列入满意候选"),
        (bottom, C.UNSATISFIED_CANDIDATE, n_unsat, "均未列入不满意候选"),
    ):
        if len(found.tied):
            ties.append(_tie(C.STAGE_SHORTLIST, list_code, k, found.tied, out, C.DAILY, placed))
    cutoffs = {
        C.SATISFIED_CANDIDATE: float(out.loc[top.chosen, C.DAILY].min()) if len(top.chosen) else float("nan"),
        C.UNSATISFIED_CANDIDATE: float(out.loc[bottom.chosen, C.DAILY].max()) if len(bottom.chosen) else float("nan"),
    }
    if inputs.candidates is not None:
        cutoffs, ties = _fixed_shortlist(out, inputs.candidates, keys, ties, warnings)
    candidates = out.index[out[C.SHORTLIST].notna().to_numpy()]

    # ---- 网络评价
    net = votes[votes[C.ROUND] == C.NET]
    held = len(net) > 0
    out[C.NETWORK] = np.nan
    out[C.TOTAL] = np.nan
    if held:
        net_keys = pd.MultiIndex.from_frame(net[[C.UNIT, C.SECTION]])
        outside = ~net_keys.isin(candidates)
        if outside.any():
            raise InputError(
                "votes",
                [
                    (net.at[i, C.ROW] if C.ROW in net else None, f"{net.at[i, C.UNIT]} {net.at[i, C.SECTION]} 不在候选名单中，不应有网络评价票")
                    for i in net.index[outside]
                ],
            )
        counts = net.groupby([C.UNIT, C.SECTION])[COUNTS].sum().reindex(candidates, fill_value=0)
        network = network_scores(counts, s)
        no_ballots = network.isna()
        if no_ballots.any():
            notes.add(candidates[no_ballots.to_numpy()], "网络评价无票，按 0 分计")
        network = network.fillna(0.0)
        out.loc[candidates, C.VOTES_IN[C.NET]] = counts[COUNTS].sum(axis=1)
        out.loc[candidates, C.NETWORK] = network
        out.loc[candidates, C.TOTAL] = out.loc[candidates, C.DAILY] + network + out.loc[candidates, C.BONUS]
        n = counts[COUNTS].sum(axis=1)
        texts = [
            f"网络评价：满意 {a}、基本满意 {b}、不满意 {c}，共 {t} 票；{rate_formula(a, b, c, s.network_points, s)} = {fmt(v)} 分"
            if t else "网络评价：无票，按 0 分计"
            for a, b, c, t, v in zip(counts[C.VOTES_S], counts[C.VOTES_B], counts[C.VOTES_U], n, network)
        ]
        lines_parts.append(lines(candidates, C.NETWORK, texts, network.to_numpy()))
        total = out.loc[candidates, C.TOTAL]
        parts = {L.COMPONENTS[c]: out.loc[candidates, c] for c in (C.DAILY, C.NETWORK, C.BONUS)}
        lines_parts.append(lines(candidates, C.TOTAL, _sum_texts(L.COMPONENTS[C.TOTAL], parts, total), total.to_numpy()))
    else:
        warnings.append("尚未进行网络评价（没有网络评价票）：网络评价、总成绩和评议结果暂空")
    lines_parts.append(bonus_lines)
    out[C.TOTAL_RANK] = competition_rank(out[C.TOTAL], s.rank_decimals)

    # ---- 满意单位 / 不满意单位 / 最不满意单位 (proposals)
    out[C.PROPOSED] = None
    if held:
        final = out.loc[candidates]
        best = cut(order(final, C.TOTAL, True, s.rank_decimals), s.final_satisfied, include_ties=True)
        worst = cut(order(final.drop(best.chosen), C.TOTAL, False, s.rank_decimals), s.final_unsatisfied, include_ties=False)
        lowest = cut(order(final.loc[worst.chosen], C.TOTAL, False, s.rank_decimals), s.final_most_unsatisfied, include_ties=False)
        out.loc[best.chosen, C.PROPOSED] = C.SATISFIED
        out.loc[worst.chosen, C.PROPOSED] = C.UNSATISFIED
        out.loc[lowest.chosen, C.PROPOSED] = C.MOST_UNSATISFIED
        for found, list_code, k, placed in (
            (best, C.SATISFIED, s.final_satisfied, "已全部拟定为满意单位"),
            (worst, C.UNSATISFIED, s.final_unsatisfied, "均未拟定为不满意单位"),
            (lowest, C.MOST_UNSATISFIED, s.final_most_unsatisfied, "均未拟定为最不满意单位"),
        ):
            if len(found.tied):
                ties.append(_tie(C.STAGE_FINAL, list_code, k, found.tied, out, C.TOTAL, placed))

    # ---- the review office's decisions
    out[C.RESULT] = out[C.PROPOSED]
    out[C.DECISION] = None
    if inputs.decisions is not None and len(inputs.decisions):
        _apply_decisions(out, inputs.decisions, candidates, held)
    if held:
        for code, want in ((C.SATISFIED, s.final_satisfied), (C.UNSATISFIED, s.final_unsatisfied - s.final_most_unsatisfied), (C.MOST_UNSATISFIED, s.final_most_unsatisfied)):
            got = int((out[C.RESULT] == code).sum())
            if got != want:
                warnings.append(f"{L.label(L.RESULTS, code)}现为 {got} 个，规则为 {want} 个，请评议办确认")

    # ---- effects
    satisfied = out[out[C.RESULT] == C.SATISFIED]
    top_tier = cut(order(satisfied, C.TOTAL, True, s.rank_decimals), s.top_bonus_tier, include_ties=True) if len(satisfied) else None
    out[C.TOP_TIER] = False
    if top_tier is not None:
        out.loc[top_tier.chosen, C.TOP_TIER] = True
        if len(top_tier.tied):
            ties.append(_tie(C.STAGE_FINAL, C.TOP_TIER, s.top_bonus_tier, top_tier.tied, out, C.TOTAL, "已全部列入优秀档"))
    out[C.TWO_YEARS_UNSATISFIED] = out[C.RESULT].isin([C.UNSATISFIED, C.MOST_UNSATISFIED]) & out[C.PREVIOUS_UNSATISFIED].astype(bool)
    if out[C.TWO_YEARS_UNSATISFIED].any():
        notes.add(out.index[out[C.TWO_YEARS_UNSATISFIED].to_numpy()], "连续两年为不满意单位")
    units = unit_effects(out, sections, s)

    for tie in ties:
        warnings.append(tie.message)
    out[C.WARNINGS] = [list(notes.by_key.get(tuple(k), [])) for k in out.index]
    exempt_idx = out.index[out[C.EXEMPT].to_numpy()]
    for k in exempt_idx:
        out.at[k, C.WARNINGS] = ["免评（连续两年满意单位）"]
    table = out.reset_index()
    table = table.rename(columns={"level_0": C.UNIT, "level_1": C.SECTION})
    explanation = _reading_order(lines_parts, all_keys)
    return Scorecard(
        year=year,
        settings=s,
        sections=table,
        lines=explanation[LINE_COLUMNS],
        units=units,
        warnings=warnings,
        ties=ties,
        round_means=round_means,
        cutoffs=cutoffs,
        network_held=held,
    )


def _fixed_shortlist(out: pd.DataFrame, fixed: pd.DataFrame, keys: pd.MultiIndex, ties: list, warnings: list[str]):
    """Put the fixed candidate list in place of the one the daily scores give, say
    where the two differ, and drop the shortlist ties (fixing the list settled them).
    Returns the cut-offs of the fixed list and the remaining ties."""
    computed = out[C.SHORTLIST].copy()
    where = pd.MultiIndex.from_frame(fixed[[C.UNIT, C.SECTION]]) if len(fixed) else keys[:0]
    known = where.isin(keys)
    for key in where[~known]:
        warnings.append(f"已确定的候选名单中的 {_name(key)} 现已不参加评议（免评或已删除），不列入候选")
    out[C.SHORTLIST] = None
    out.loc[where[known], C.SHORTLIST] = fixed[C.SHORTLIST].to_numpy()[known]
    moved = [k for k in out.index if (computed.get(k) or None) != (out.at[k, C.SHORTLIST] or None)]
    if moved:
        names = "、".join(
            f"{_name(k)}（{L.label(L.SHORTLISTS, computed[k]) if computed[k] else '不列入'}）" for k in moved[:20]
        )
        more = f" 等 {len(moved)} 个" if len(moved) > 20 else ""
        warnings.append(f"候选名单已确定，未按现在的日常评价变动；按现在的日常评价，{names}{more}的候选位置会不同")
    cutoffs = {}
    for code, pick in ((C.SATISFIED_CANDIDATE, "min"), (C.UNSATISFIED_CANDIDATE, "max")):
        scores = out.loc[out[C.SHORTLIST] == code, C.DAILY].astype(float)
        cutoffs[code] = float(getattr(scores, pick)()) if len(scores) else float("nan")
    return cutoffs, [t for t in ties if t.stage != C.STAGE_SHORTLIST]


_COMPONENT_ORDER = {
    c: i for i, c in enumerate([C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.DAILY, C.NETWORK, C.BONUS, C.TOTAL])
}


def _sum_texts(label: str, parts: dict[str, pd.Series], totals: pd.Series) -> list[str]:
    """The line of a score that is the sum of others, per section: "日常评价:上半年服务对象
    评价 23.5 + … + 监督检查 20 = 80.1 分" (`parts`: label -> scores, aligned with `totals`)."""
    values = np.column_stack([v.to_numpy(dtype=float) for v in parts.values()])
    return [
        f"{label}：{' + '.join(f'{name} {fmt(v)}' for name, v in zip(parts, row))} = {fmt(total)} 分"
        for row, total in zip(values, totals.to_numpy(dtype=float))
    ]


def _reading_order(parts: list[pd.DataFrame], keys: pd.MultiIndex) -> pd.DataFrame:
    """Lines grouped by section (in the list's order), then component, then as made."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=LINE_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    position = keys.get_indexer(pd.MultiIndex.from_frame(frame[[C.UNIT, C.SECTION]]))
    component = frame[C.COMPONENT].map(_COMPONENT_ORDER)
    ordering = np.lexsort((np.arange(len(frame)), component.to_numpy(), position))
    return frame.iloc[ordering].reset_index(drop=True)


def _tie(stage: str, list_code: str, k: int, tied: pd.Index, out: pd.DataFrame, primary: str, placed: str) -> Tie:
    names = "、".join(_name(key) for key in tied)
    list_label = L.label(L.SHORTLISTS, list_code) if stage == C.STAGE_SHORTLIST else (
        "优秀档" if list_code == C.TOP_TIER else L.label(L.RESULTS, list_code)
    )
    score = display_text(float(out.loc[tied[0], primary]))
    message = (
        f"{list_label}第 {k} 名处并列：{names}"
        f"（{L.COMPONENTS[primary]} {score}，服务对象评价、监督检查、平台办理得分也相同），"
        f"{placed}，请评议办裁定"
    )
    return Tie(stage, list_code, k, tuple(tuple(key) for key in tied), message)


def _apply_decisions(out: pd.DataFrame, decisions: pd.DataFrame, candidates: pd.Index, held: bool) -> None:
    """The office confirms or overrides a proposal, always with a reason."""
    problems = []
    valid = {C.SATISFIED, C.UNSATISFIED, C.MOST_UNSATISFIED, None}
    for i, row in decisions.reset_index(drop=True).iterrows():
        key = (row[C.UNIT], row[C.SECTION])
        result = None if pd.isna(row[C.RESULT]) else row[C.RESULT]
        reason = str(row.get(C.TEXT) or "").strip()
        if not held:
            problems.append((i + 1, "网络评价尚未进行，不能确定评议结果"))
        elif key not in candidates:
            problems.append((i + 1, f"{_name(key)} 不在候选名单中"))
        elif result not in valid:
            problems.append((i + 1, f"结果“{result}”无效"))
        elif not reason:
            problems.append((i + 1, f"{_name(key)} 的调整没有填写理由"))
        else:
            proposed = out.at[key, C.PROPOSED]
            before = L.label(L.RESULTS, proposed) if proposed else "不列入"
            after = L.label(L.RESULTS, result) if result else "不列入"
            out.at[key, C.RESULT] = result
            verb = "确认" if proposed == result else f"由 {before} 改为 {after}"
            out.at[key, C.DECISION] = f"评议办{verb}：{reason}"
    if problems:
        raise InputError("decisions", problems)


def unit_effects(out: pd.DataFrame, sections: pd.DataFrame, settings: RuleSettings) -> pd.DataFrame:
    """考绩: +5 per 满意单位 section, −5 per 不满意单位, −10 (instead of −5) per
    最不满意单位; a unit's effects add up. Every unit of the list appears."""
    result = out[C.RESULT]
    by_unit = pd.DataFrame(
        {
            C.N_SATISFIED: (result == C.SATISFIED),
            C.N_UNSATISFIED: (result == C.UNSATISFIED),
            C.N_MOST_UNSATISFIED: (result == C.MOST_UNSATISFIED),
            C.TOP_TIER: out[C.TOP_TIER].astype(bool),
        },
        index=out.index,
    ).groupby(level=0, sort=False).sum()
    by_unit = by_unit.reindex(pd.unique(sections[C.UNIT]), fill_value=0).astype("int64")
    by_unit[C.EFFECT] = (
        by_unit[C.N_SATISFIED] * settings.effect_satisfied
        + by_unit[C.N_UNSATISFIED] * settings.effect_unsatisfied
        + by_unit[C.N_MOST_UNSATISFIED] * settings.effect_most_unsatisfied
    )
    by_unit.index.name = C.UNIT
    return by_unit.reset_index()[[C.UNIT, C.N_SATISFIED, C.N_UNSATISFIED, C.N_MOST_UNSATISFIED, C.EFFECT, C.TOP_TIER]]
