"""One year's scoring from end to end (docs/rules.md §2): the composition of the rule
functions.

`score_year(inputs, settings)` is the one entry point the platform, the offline bundle
and the benchmark call. It is pure: frames in, a `Scorecard` out. It runs one function
per stage of the rules, in their order; the components' own rules are in
`scoring.components`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scoring import columns as C
from scoring import labels as L
from scoring.components import (
    LINE_COLUMNS,
    SERVICE_ROUNDS,
    ServiceScores,
    bonus_scores,
    fmt,
    inspection_scores,
    lines,
    platform_scores,
    rate_formula,
    service_scores,
)
from scoring.history import history_flags
from scoring.ranking import cut, order, split_shortlist
from scoring.rounding import competition_rank, display_text
from scoring.settings import RuleSettings
from scoring.supervisor import tier_text
from scoring.votes import COUNTS, network_scores, tally


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
_ROUND_COLUMNS = {C.H1: C.SERVICE_H1, C.H2: C.SERVICE_H2}


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


@dataclass
class _Run:
    """One year's scoring as its stages build it up."""

    year: int
    settings: RuleSettings
    sections: pd.DataFrame  # UNIT, SECTION: the year's list
    all_keys: pd.MultiIndex  # every section of the list, in its order
    keys: pd.MultiIndex  # the participating (non-exempt) sections
    out: pd.DataFrame  # indexed by all_keys: the Scorecard's table, a column per stage
    lines: list[pd.DataFrame] = field(default_factory=list)  # explanation lines, as made
    warnings: list[str] = field(default_factory=list)  # about the year
    notes: _Notes = field(default_factory=_Notes)  # about single sections
    ties: list[Tie] = field(default_factory=list)


def score_year(inputs: YearInputs, settings: RuleSettings) -> Scorecard:
    """Score one year: every component, the daily score, the shortlist, the online
    round, the total, the proposed and decided lists, the parent-unit effects.

    One function per stage, in the order of docs/rules.md §2; each adds its columns to
    the table, its lines, warnings and ties to the year's `_Run`."""
    run = _start(inputs, settings)
    events = _year_events(run, inputs)
    service = _service(run, events["votes"])
    platform = _component(run, C.PLATFORM_SCORE, platform_scores(events["platform"], run.keys, settings))
    supervisor = _supervisor(run, events["supervisor"])
    inspection = _component(run, C.INSPECTION, inspection_scores(events["inspection"], run.keys, run.year, settings))
    _daily(run, service.score + platform + supervisor + inspection)
    _component(run, C.BONUS, bonus_scores(events["bonus"], run.keys, run.year, settings))
    cutoffs = _shortlist(run)
    if inputs.candidates is not None:
        cutoffs = _fixed_shortlist(run, inputs.candidates)
    candidates = run.out.index[run.out[C.SHORTLIST].notna().to_numpy()]
    held = _online_round(run, events["votes"], candidates)
    _proposals(run, candidates, held)
    _decisions(run, inputs.decisions, candidates, held)
    units = _effects(run)
    return _scorecard(run, units, service.means, cutoffs, held)


def _start(inputs: YearInputs, settings: RuleSettings) -> _Run:
    """The year's list and who takes part (docs/rules.md §2.12): a section rated 满意单位
    in each of the previous two years is exempt (免评: on the list, never scored), last
    year's 不满意单位 are flagged for the shortlist. A section listed twice is refused."""
    sections = inputs.sections[[C.UNIT, C.SECTION]].reset_index(drop=True)
    all_keys = pd.MultiIndex.from_frame(sections)
    if all_keys.has_duplicates:
        dup = all_keys[all_keys.duplicated()]
        raise InputError("sections", [(None, f"科室重复：{_name(k)}") for k in dup])
    flags = history_flags(sections, inputs.history, inputs.year, settings).set_index([C.UNIT, C.SECTION])
    exempt = flags[C.EXEMPT]
    keys = all_keys[~exempt.to_numpy()]
    out = pd.DataFrame(index=all_keys)
    out[C.EXEMPT] = exempt
    out[C.PREVIOUS_UNSATISFIED] = flags[C.PREVIOUS_UNSATISFIED]
    return _Run(inputs.year, settings, sections, all_keys, keys, out)


def _year_events(run: _Run, inputs: YearInputs) -> dict[str, pd.DataFrame]:
    """Every input frame but the sections and history, by source name, complete
    (`_events`) and with only the rows that count (`_kept_events`)."""
    return {source: _kept_events(run, source, _events(getattr(inputs, source), source)) for source in _EVENT_COLUMNS}


def _events(frame: pd.DataFrame | None, source: str) -> pd.DataFrame:
    """The frame with every expected column (an absent frame is an empty one; votes one
    row per vote are counted first)."""
    columns = _EVENT_COLUMNS[source]
    if frame is None:
        frame = pd.DataFrame(columns=columns)
    if source == "votes" and C.CHOICE in frame.columns:
        frame = tally(frame)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(source, [(None, f"缺少列 {', '.join(missing)}")])
    frame = frame.reset_index(drop=True)
    if C.DATE in columns:
        frame[C.DATE] = pd.to_datetime(frame[C.DATE])
    return frame


def _kept_events(run: _Run, source: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of one input frame that count: those of participating sections
    (docs/rules.md §2.12, §2.18). A row for a section not on the list is ignored with a
    warning quoting its row; an exempt section's rows are left out with one warning
    per section."""
    where = pd.MultiIndex.from_frame(frame[[C.UNIT, C.SECTION]]) if len(frame) else run.all_keys[:0]
    unknown = ~where.isin(run.all_keys)
    if unknown.any():
        for i in frame.index[unknown]:
            row = frame.at[i, C.ROW] if C.ROW in frame.columns else None
            at = f"第 {row} 行" if row is not None and not pd.isna(row) else ""
            run.warnings.append(f"{L.SOURCES[source]}{at}的 {frame.at[i, C.UNIT]} {frame.at[i, C.SECTION]} 不在参评科室名单中，已忽略")
    of_exempt = where.isin(run.all_keys[run.out[C.EXEMPT].to_numpy()])
    if of_exempt.any():
        for key in sorted(set(where[of_exempt])):
            run.warnings.append(f"{_name(key)} 免评，其{L.SOURCES[source]}数据不计")
    return frame[~unknown & ~of_exempt].reset_index(drop=True)


def _service(run: _Run, votes: pd.DataFrame) -> ServiceScores:
    """服务对象评价 into the table: each round's votes and score, and their sum
    (`components.service_scores`: rate × 25 a round, the sub-30 blending,
    docs/rules.md §2.3, §2.4)."""
    service = service_scores(votes, run.keys, run.settings)
    for rnd in SERVICE_ROUNDS:
        run.out.loc[run.keys, C.VOTES_IN[rnd]] = service.votes[rnd]
        run.out.loc[run.keys, _ROUND_COLUMNS[rnd]] = service.rounds[rnd]
    run.out.loc[run.keys, C.SERVICE] = service.score
    run.lines.append(service.lines)
    run.warnings.extend(service.warnings)
    for keys, message in service.notes:
        run.notes.add(keys, message)
    return service


def _component(run: _Run, column: str, scored: tuple[pd.Series, pd.DataFrame]) -> pd.Series:
    """A component's scores (from `scoring.components`, which follow its rule) into the
    table, its lines into the explanations; returns the scores."""
    score, component_lines = scored
    run.out.loc[run.keys, column] = score
    run.lines.append(component_lines)
    return score


def _supervisor(run: _Run, events: pd.DataFrame) -> pd.Series:
    """主管单位评价 (docs/rules.md §2.6): each section's score as its unit gave it, with
    its tier; a section without one scores 0, with a note (§2.18). Two scores for one
    section are refused. (The tier distribution is checked where scores are entered.)"""
    s, keys = run.settings, run.keys
    dup = events.duplicated([C.UNIT, C.SECTION])
    if dup.any():
        raise InputError("supervisor", [(events.at[i, C.ROW] if C.ROW in events else None, f"{events.at[i, C.UNIT]} {events.at[i, C.SECTION]} 有两个主管单位评分") for i in events.index[dup]])
    supervisor = events.set_index([C.UNIT, C.SECTION])[C.SCORE].astype(float).reindex(keys)
    missing = supervisor.isna()
    supervisor = supervisor.fillna(0.0)
    run.out.loc[keys, C.SUPERVISOR] = supervisor
    texts = [f"主管单位评分 {fmt(v)} 分（{tier_text(v, s)}）" if not m else "未提交主管单位评分，按 0 分计" for v, m in zip(supervisor, missing)]
    run.lines.append(lines(keys, C.SUPERVISOR, texts, supervisor.to_numpy()))
    if missing.any():
        run.notes.add(keys[missing.to_numpy()], "未提交主管单位评分，按 0 分计")
    return supervisor


def _daily(run: _Run, daily: pd.Series) -> None:
    """日常评价 (docs/rules.md §2.8) = 服务对象评价 + 平台办理 + 主管单位评价 + 监督检查,
    with its sum line, and its competition rank over the participating sections
    (§2.14: 1, 2, 2, 4 on scores rounded to `rank_decimals`)."""
    out, keys = run.out, run.keys
    out.loc[keys, C.DAILY] = daily
    service = L.COMPONENTS[C.SERVICE]
    parts = {
        **{f"{L.ROUND_NAMES[rnd]}{service}": out.loc[keys, _ROUND_COLUMNS[rnd]] for rnd in SERVICE_ROUNDS},
        **{L.COMPONENTS[c]: out.loc[keys, c] for c in (C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION)},
    }
    run.lines.append(lines(keys, C.DAILY, _sum_texts(L.COMPONENTS[C.DAILY], parts, daily), daily.to_numpy()))
    out[C.DAILY_RANK] = competition_rank(out[C.DAILY], run.settings.rank_decimals)


def _shortlist(run: _Run) -> dict[str, float]:
    """候选名单 from the daily scores (docs/rules.md §2.13): last year's 不满意单位 go in
    directly; of the other participating sections, the 50 best become 满意候选 and of
    the rest the 50 worst 不满意候选 (fewer sections: all of them, in the same
    proportion, with a warning), ordered by the tie-break chain (§2.14). A tie at a
    cut-off is reported and goes to the side that does no harm: all of it in the
    satisfied candidates, none of it in the unsatisfied ones. Returns the cut-offs: the
    lowest satisfied and the highest unsatisfied candidate's daily score."""
    s, out = run.settings, run.out
    participating = out.loc[run.keys]
    previous = participating[participating[C.PREVIOUS_UNSATISFIED].astype(bool)]
    rest = participating.drop(previous.index)
    n_sat, n_unsat = split_shortlist(len(rest), s.shortlist_satisfied, s.shortlist_unsatisfied)
    if n_sat + n_unsat < s.shortlist_satisfied + s.shortlist_unsatisfied:
        run.warnings.append(
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
            run.ties.append(_tie(C.STAGE_SHORTLIST, list_code, k, found.tied, out, C.DAILY, placed))
    return {
        C.SATISFIED_CANDIDATE: float(out.loc[top.chosen, C.DAILY].min()) if len(top.chosen) else float("nan"),
        C.UNSATISFIED_CANDIDATE: float(out.loc[bottom.chosen, C.DAILY].max()) if len(bottom.chosen) else float("nan"),
    }


def _fixed_shortlist(run: _Run, fixed: pd.DataFrame) -> dict[str, float]:
    """The candidate list as the review office fixed it (docs/rules.md §2.13), in place
    of the one the daily scores give: a warning names the sections the daily scores
    would now place differently (and any fixed candidate no longer taking part), and
    the shortlist ties are dropped (fixing the list settled them). Returns the
    cut-offs of the fixed list."""
    out = run.out
    computed = out[C.SHORTLIST].copy()
    where = pd.MultiIndex.from_frame(fixed[[C.UNIT, C.SECTION]]) if len(fixed) else run.keys[:0]
    known = where.isin(run.keys)
    for key in where[~known]:
        run.warnings.append(f"已确定的候选名单中的 {_name(key)} 现已不参加评议（免评或已删除），不列入候选")
    out[C.SHORTLIST] = None
    out.loc[where[known], C.SHORTLIST] = fixed[C.SHORTLIST].to_numpy()[known]
    moved = [k for k in out.index if (computed.get(k) or None) != (out.at[k, C.SHORTLIST] or None)]
    if moved:
        names = "、".join(
            f"{_name(k)}（{L.label(L.SHORTLISTS, computed[k]) if computed[k] else '不列入'}）" for k in moved[:20]
        )
        more = f" 等 {len(moved)} 个" if len(moved) > 20 else ""
        run.warnings.append(f"候选名单已确定，未按现在的日常评价变动；按现在的日常评价，{names}{more}的候选位置会不同")
    cutoffs = {}
    for code, pick in ((C.SATISFIED_CANDIDATE, "min"), (C.UNSATISFIED_CANDIDATE, "max")):
        scores = out.loc[out[C.SHORTLIST] == code, C.DAILY].astype(float)
        cutoffs[code] = float(getattr(scores, pick)()) if len(scores) else float("nan")
    run.ties = [t for t in run.ties if t.stage != C.STAGE_SHORTLIST]
    return cutoffs


def _online_round(run: _Run, votes: pd.DataFrame, candidates: pd.Index) -> bool:
    """网络评价 and the total (docs/rules.md §2.9, §2.11), once the online round has any
    vote (`_network`); until then no section has either, and a warning says so
    (§2.18). Then the total's competition rank (§2.14). Returns whether the online
    round has been held."""
    out = run.out
    net = votes[votes[C.ROUND] == C.NET]
    held = len(net) > 0
    out[C.NETWORK] = np.nan
    out[C.TOTAL] = np.nan
    if held:
        _network(run, net, candidates)
    else:
        run.warnings.append("尚未进行网络评价（没有网络评价票）：网络评价、总成绩和评议结果暂空")
    out[C.TOTAL_RANK] = competition_rank(out[C.TOTAL], run.settings.rank_decimals)
    return held


def _network(run: _Run, net: pd.DataFrame, candidates: pd.Index) -> None:
    """Each candidate's 网络评价 = rate × 15 over all its ballots, never blended; a
    candidate without any ballot scores 0, with a note (docs/rules.md §2.9). Then its
    total = daily + network + bonus (§2.11). Each with its line. A vote for a section
    off the shortlist is refused."""
    s, out = run.settings, run.out
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
        run.notes.add(candidates[no_ballots.to_numpy()], "网络评价无票，按 0 分计")
    network = network.fillna(0.0)
    n = counts[COUNTS].sum(axis=1)
    out.loc[candidates, C.VOTES_IN[C.NET]] = n
    out.loc[candidates, C.NETWORK] = network
    out.loc[candidates, C.TOTAL] = out.loc[candidates, C.DAILY] + network + out.loc[candidates, C.BONUS]
    texts = [
        f"网络评价：满意 {a}、基本满意 {b}、不满意 {c}，共 {t} 票；{rate_formula(a, b, c, s.network_points, s)} = {fmt(v)} 分"
        if t else "网络评价：无票，按 0 分计"
        for a, b, c, t, v in zip(counts[C.VOTES_S], counts[C.VOTES_B], counts[C.VOTES_U], n, network)
    ]
    run.lines.append(lines(candidates, C.NETWORK, texts, network.to_numpy()))
    total = out.loc[candidates, C.TOTAL]
    parts = {L.COMPONENTS[c]: out.loc[candidates, c] for c in (C.DAILY, C.NETWORK, C.BONUS)}
    run.lines.append(lines(candidates, C.TOTAL, _sum_texts(L.COMPONENTS[C.TOTAL], parts, total), total.to_numpy()))


def _proposals(run: _Run, candidates: pd.Index, held: bool) -> None:
    """The proposed final lists, once the online round is held (docs/rules.md §2.15):
    of the candidates by total and the tie-break chain (§2.14), the best 10 are
    proposed 满意单位, the worst 10 of the others 不满意单位, and the worst 3 of those
    最不满意单位. A tie at a cut-off is reported and goes to the side that does no harm:
    all of it on the 满意单位 list, none of it on the other two."""
    s, out = run.settings, run.out
    out[C.PROPOSED] = None
    if not held:
        return
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
            run.ties.append(_tie(C.STAGE_FINAL, list_code, k, found.tied, out, C.TOTAL, placed))


def _decisions(run: _Run, decisions: pd.DataFrame | None, candidates: pd.Index, held: bool) -> None:
    """The results (docs/rules.md §2.15): the proposals, as the review office's decisions
    confirm or override them (`_apply_decisions`); then a warning for each list whose
    decided length is not the rules' (10 满意单位, 7 不满意单位 besides 3 最不满意单位)."""
    s, out = run.settings, run.out
    out[C.RESULT] = out[C.PROPOSED]
    out[C.DECISION] = None
    if decisions is not None and len(decisions):
        _apply_decisions(out, decisions, candidates, held)
    if held:
        for code, want in ((C.SATISFIED, s.final_satisfied), (C.UNSATISFIED, s.final_unsatisfied - s.final_most_unsatisfied), (C.MOST_UNSATISFIED, s.final_most_unsatisfied)):
            got = int((out[C.RESULT] == code).sum())
            if got != want:
                run.warnings.append(f"{L.label(L.RESULTS, code)}现为 {got} 个，规则为 {want} 个，请评议办确认")


def _effects(run: _Run) -> pd.DataFrame:
    """What the decided lists mean (docs/rules.md §2.16): the 3 best 满意单位 by total
    form the 优秀 tier (a tie at the 3rd place all in, reported), a section unsatisfied
    this year and last is flagged, with a note; returns each parent unit's 考绩 effect
    (`unit_effects`)."""
    s, out = run.settings, run.out
    satisfied = out[out[C.RESULT] == C.SATISFIED]
    top_tier = cut(order(satisfied, C.TOTAL, True, s.rank_decimals), s.top_bonus_tier, include_ties=True) if len(satisfied) else None
    out[C.TOP_TIER] = False
    if top_tier is not None:
        out.loc[top_tier.chosen, C.TOP_TIER] = True
        if len(top_tier.tied):
            run.ties.append(_tie(C.STAGE_FINAL, C.TOP_TIER, s.top_bonus_tier, top_tier.tied, out, C.TOTAL, "已全部列入优秀档"))
    out[C.TWO_YEARS_UNSATISFIED] = out[C.RESULT].isin([C.UNSATISFIED, C.MOST_UNSATISFIED]) & out[C.PREVIOUS_UNSATISFIED].astype(bool)
    if out[C.TWO_YEARS_UNSATISFIED].any():
        run.notes.add(out.index[out[C.TWO_YEARS_UNSATISFIED].to_numpy()], "连续两年为不满意单位")
    return unit_effects(out, run.sections, s)


def _scorecard(
    run: _Run, units: pd.DataFrame, round_means: dict[str, float], cutoffs: dict[str, float], held: bool
) -> Scorecard:
    """The finished Scorecard: the ties' messages after the other warnings, each
    section's notes in its WARNINGS (an exempt section's: 免评 alone), UNIT and SECTION
    as columns, the explanation lines in reading order."""
    out = run.out
    for tie in run.ties:
        run.warnings.append(tie.message)
    out[C.WARNINGS] = [list(run.notes.by_key.get(tuple(k), [])) for k in out.index]
    exempt_idx = out.index[out[C.EXEMPT].to_numpy()]
    for k in exempt_idx:
        out.at[k, C.WARNINGS] = ["免评（连续两年满意单位）"]
    table = out.reset_index()
    table = table.rename(columns={"level_0": C.UNIT, "level_1": C.SECTION})
    explanation = _reading_order(run.lines, run.all_keys)
    return Scorecard(
        year=run.year,
        settings=run.settings,
        sections=table,
        lines=explanation[LINE_COLUMNS],
        units=units,
        warnings=run.warnings,
        ties=run.ties,
        round_means=round_means,
        cutoffs=cutoffs,
        network_held=held,
    )


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
