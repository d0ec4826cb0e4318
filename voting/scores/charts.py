"""Inline SVG charts for the review office's report pages, from a `Scorecard`.

Plain strings, no JavaScript, no chart library: each function returns the `Markup` of
one `<svg>` that a template drops in as it is. Every chart is drawn on a 360-unit wide
viewBox (a phone's width, so the fonts are close to their nominal size on a
phone) and shown with `width="100%"` up to 40rem on a desktop (app.css, `svg.chart`:
the staff pages' CSP allows no inline style); it never overflows sideways. A chart is
`role="img"` with a Chinese `aria-label` that carries the title and a short summary
(also in `<title>` and `<desc>`), because a screen reader sees nothing inside an image.
The drawing pieces (the viewBox, escaping, text fitting, legends) are voting/core/svg.py,
shared with the assessments' charts (voting/schemes/charts.py).

Every text that goes into the SVG is escaped: unit and section names come from
uploaded files. Colour is never the only carrier of meaning: the histogram's zones lie
on either side of labelled cut-off lines, and the ranking's result markers differ in
shape and fill as well as in colour (and are named in each bar's `<title>`).

Decisions:
- Histogram bins are on the displayed daily score (2 decimals, half up), so a section
  shown as 81.00 is never in the 80–81 bin because of float noise. Bins are 1 point
  wide, or 2 points (starting at even scores) when 1-point bins would be more than
  `MAX_UNIT_BINS`. Each bin holds its lower edge. A bin that straddles a cut-off is
  one bar stacked by zone. The drawn range is padded to at least `MIN_DRAWN_BINS` bin
  widths, so that one score (every section equal) is not one bar filling the plot.
- Zones compare scores rounded like ranks (`rank_decimals`), as the shortlist does:
  at or above the satisfied cut-off, at or below the unsatisfied one, or between.
- The ranking's bars share one scale from 0 to the highest possible total (daily
  maximum + network + bonus cap from the settings), so years and campaigns compare.
  Candidates are ordered by the engine's own chain (total, then the tie-breakers).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd
from markupsafe import Markup

from scoring import columns as C
from scoring import labels as L
from scoring.engine import Scorecard
from scoring.ranking import ABOVE, BELOW, BETWEEN, cutoff_zone, order
from scoring.rounding import display, display_text
from scoring.settings import RuleSettings
from voting.core.svg import GRID, MUTED, SMALL, TRACK, WIDTH, esc, fit, legend, notice, num, svg, text, text_width

SATISFIED_COLOUR = "#2b8a3e"
UNSATISFIED_COLOUR = "#c92a2a"
OTHER_COLOUR = "#adb5bd"

# Histogram zones, in legend order: (code, label, colour).
ZONES = (
    (ABOVE, "满意候选线及以上", SATISFIED_COLOUR),
    (BETWEEN, "其他", OTHER_COLOUR),
    (BELOW, "不满意候选线及以下", UNSATISFIED_COLOUR),
)
# The shortlist's cut-offs as the histogram draws them: (list code, label, colour).
CUTOFF_LINES = (
    (C.SATISFIED_CANDIDATE, "满意候选线", SATISFIED_COLOUR),
    (C.UNSATISFIED_CANDIDATE, "不满意候选线", UNSATISFIED_COLOUR),
)
MAX_UNIT_BINS = 30
MIN_DRAWN_BINS = 5

# Components of a section, in the order of docs/rules.md §2, with a qualitative palette
# that colour-blind readers can tell apart (Okabe & Ito).
COMPONENTS = (C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.NETWORK, C.BONUS)
COMPONENT_COLOURS = {
    C.SERVICE: "#0072b2",
    C.PLATFORM_SCORE: "#e69f00",
    C.SUPERVISOR: "#56b4e9",
    C.INSPECTION: "#009e73",
    C.NETWORK: "#cc79a7",
    C.BONUS: "#d55e00",
}
RESULT_CODES = (C.SATISFIED, C.UNSATISFIED, C.MOST_UNSATISFIED)

NO_DATA = "暂无数据"
EXEMPT_NOTE = "免评"
NETWORK_NOT_HELD = "网络评价尚未进行"


# ---- numbers -------------------------------------------------------------------------


def _missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _max_text(value: float) -> str:
    """A maximum as the rules say it: 50, 10, 0.5."""
    return display_text(value, 2).rstrip("0").rstrip(".")


# ---- 1. daily-score histogram --------------------------------------------------------

DAILY_TITLE = "日常评价得分分布"
DAILY_LEFT, DAILY_RIGHT = 36.0, WIDTH - 10.0  # plot area in viewBox units


def zone(value: float, cutoffs: Mapping[str, float], decimals: int = 6) -> str:
    """`scoring.ranking.cutoff_zone`: the chart colours follow the shortlist's own rule."""
    return cutoff_zone(value, cutoffs, decimals)


@dataclass(frozen=True)
class DailyBins:
    """The histogram's data: bin `i` holds displayed scores in
    [first + i·width, first + (i+1)·width), counted per zone."""

    width: int  # 1 or 2 points
    first: int  # lower edge of the first bin
    counts: tuple[dict[str, int], ...]  # per bin: zone code -> sections
    lo: float  # drawn score range (the bins, padded to MIN_DRAWN_BINS widths)
    hi: float


def _participating(card: Scorecard) -> pd.DataFrame:
    frame = card.sections
    exempt = frame[C.EXEMPT].map(lambda v: not _missing(v) and bool(v)).astype(bool) if C.EXEMPT in frame else False
    return frame[~exempt & frame[C.DAILY].notna()]


def daily_bins(card: Scorecard) -> DailyBins | None:
    """The bins of the participating sections' daily scores (None without any)."""
    frame = _participating(card)
    if frame.empty:
        return None
    scores = [float(v) for v in frame[C.DAILY]]
    shown = [float(display(v, 2)) for v in scores]
    low, high = math.floor(min(shown)), math.floor(max(shown))
    width = 1 if high - low + 1 <= MAX_UNIT_BINS else 2
    first = low - low % width
    n = (high - first) // width + 1
    counts = [{code: 0 for code, _, _ in ZONES} for _ in range(n)]
    decimals = card.settings.rank_decimals
    for value, seen in zip(scores, shown):
        counts[int((math.floor(seen) - first) // width)][zone(value, card.cutoffs, decimals)] += 1
    # Pad the drawn range, inside [0, the highest daily score the rules allow].
    top = highest_daily(card.settings)
    need = max(0, MIN_DRAWN_BINS - n)
    lo = float(first - (need // 2) * width)
    hi = float(first + (n + need - need // 2) * width)
    if lo < 0:
        lo, hi = 0.0, hi - lo
    if hi > max(top, first + n * width):
        shift = hi - max(top, first + n * width)
        lo, hi = max(0.0, lo - shift), hi - shift
    return DailyBins(width, first, tuple(counts), lo, hi)


def daily_x(bins: DailyBins, score: float) -> float:
    """The histogram's x (viewBox units) of a daily score."""
    return DAILY_LEFT + (score - bins.lo) / (bins.hi - bins.lo) * (DAILY_RIGHT - DAILY_LEFT)


def _count_step(most: int) -> int:
    """A tick step of 1, 2, 5, 10, 20, 50 … giving at most 5 steps up to `most`."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if most <= 5 * step * m:
                return step * m
        step *= 10


def daily_distribution(card: Scorecard) -> Markup:
    """Histogram of the participating sections' daily scores, bars coloured by zone,
    both shortlist cut-offs drawn as labelled dashed lines."""
    bins = daily_bins(card)
    if bins is None:
        return notice(DAILY_TITLE, NO_DATA, "chart-daily")
    cutoffs = _drawn_cutoffs(card)
    body, y = legend([(colour, label) for _, label, colour in ZONES], 16)
    label_rows = y + 2  # one row per cut-off label
    axis_title_y = label_rows + 16 * len(cutoffs)
    plot = _count_scale(bins, top=axis_title_y + 10)
    body += _count_axis(plot, axis_title_y)
    body += _daily_bars(bins, plot)
    body += _score_axis(bins, plot.bottom)
    body += _cutoff_lines(bins, cutoffs, label_rows, plot.bottom)
    return svg(plot.bottom + 44, DAILY_TITLE, _daily_summary(card, bins, cutoffs), body, "chart-daily")


def _drawn_cutoffs(card: Scorecard) -> list[tuple[str, str, str, float]]:
    """The cut-offs the card has (a list may be empty): (code, label, colour, score)."""
    return [(code, name, colour, float(card.cutoffs[code])) for code, name, colour in CUTOFF_LINES
            if not _missing(card.cutoffs.get(code))]


@dataclass(frozen=True)
class _CountScale:
    """The histogram's vertical scale: 0 sections at `bottom`, `y_max` at `top`, ticks
    every `step`."""

    top: float
    bottom: float
    y_max: int
    step: int

    def y(self, count: float) -> float:
        return self.bottom - count / self.y_max * (self.bottom - self.top)


def _count_scale(bins: DailyBins, top: float) -> _CountScale:
    """A plot 170 units high below `top`, up to the fullest bin rounded up to a step."""
    most = max(sum(c.values()) for c in bins.counts)
    step = _count_step(most)
    return _CountScale(top, top + 170, step * math.ceil(most / step), step)


def _count_axis(plot: _CountScale, title_y: float) -> list[str]:
    """The grid lines with their counts, and the count axis' title."""
    parts = []
    for tick in range(0, plot.y_max + 1, plot.step):
        ty = plot.y(tick)
        parts.append(f'<line x1="{num(DAILY_LEFT)}" y1="{num(ty)}" x2="{num(DAILY_RIGHT)}" y2="{num(ty)}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(text(DAILY_LEFT - 4, ty + 4, str(tick), size=SMALL, anchor="end", fill=MUTED))
    parts.append(text(4, title_y, "科室数", size=SMALL, fill=MUTED, cls="axis-title"))
    return parts


def _daily_bars(bins: DailyBins, plot: _CountScale) -> list[str]:
    """One group per bin, with its tooltip, stacked by zone from the bottom (below,
    between, above)."""
    groups = []
    for i, counts in enumerate(bins.counts):
        start = bins.first + i * bins.width
        x0, x1 = daily_x(bins, start), daily_x(bins, start + bins.width)
        gap = min(1.5, (x1 - x0) / 6)
        total = sum(counts.values())
        tip = f"{start}–{start + bins.width} 分：{total} 个科室" + "".join(
            f"，{label} {counts[code]}" for code, label, _ in ZONES if counts[code] and counts[code] != total)
        parts = [f"<title>{esc(tip)}</title>"]
        level = 0
        for code, _, colour in reversed(ZONES):
            if counts[code]:
                y0, y1 = plot.y(level + counts[code]), plot.y(level)
                parts.append(f'<rect x="{num(x0 + gap)}" y="{num(y0)}" width="{num(x1 - x0 - 2 * gap)}" '
                             f'height="{num(y1 - y0)}" fill="{colour}" data-zone="{code}"/>')
                level += counts[code]
        groups.append(f'<g class="bin" data-from="{start}" data-to="{start + bins.width}" '
                      f'data-count="{total}">{"".join(parts)}</g>')
    return groups


def _score_axis(bins: DailyBins, bottom: float) -> list[str]:
    """The score axis: a tick at bin edges, at most about 8 labels, and its title."""
    parts = [f'<line x1="{num(DAILY_LEFT)}" y1="{num(bottom)}" x2="{num(DAILY_RIGHT)}" y2="{num(bottom)}" '
             f'stroke="{MUTED}" stroke-width="1"/>']
    n_edges = int(round((bins.hi - bins.lo) / bins.width)) + 1
    every = max(1, math.ceil(n_edges / 8))
    for k in range(0, n_edges, every):
        score = bins.lo + k * bins.width
        x = daily_x(bins, score)
        parts.append(f'<line x1="{num(x)}" y1="{num(bottom)}" x2="{num(x)}" y2="{num(bottom + 4)}" stroke="{MUTED}"/>')
        parts.append(text(x, bottom + 16, f"{score:g}", size=SMALL, anchor="middle", fill=MUTED))
    axis = "日常评价得分" + (f"（每段 {bins.width} 分，含下限）" if bins.width > 1 else "（每段含下限）")
    parts.append(text((DAILY_LEFT + DAILY_RIGHT) / 2, bottom + 36, axis, size=SMALL, anchor="middle",
                       cls="axis-title"))
    return parts


def _cutoff_lines(bins: DailyBins, cutoffs: list[tuple[str, str, str, float]], label_rows: float,
                  bottom: float) -> list[str]:
    """Each cut-off as a dashed line down to the axis, labelled in its own row above the
    plot (the label left of the line when it would run off the right edge)."""
    parts = []
    for row, (code, name, colour, value) in enumerate(cutoffs):
        x = daily_x(bins, value)
        label_y = label_rows + 16 * row + 12
        label = f"{name} {display_text(value)}"
        w = text_width(label, SMALL)
        if x + 3 + w <= WIDTH - 2:
            tx, anchor = x + 3, "start"
        else:
            tx, anchor = max(x - 3, w + 2), "end"
        parts.append(
            f'<g class="cutoff" data-list="{code}" data-value="{num(value)}">'
            f'<line x1="{num(x)}" y1="{num(label_y - 10)}" x2="{num(x)}" y2="{num(bottom)}" stroke="#fff" '
            f'stroke-width="3.5" stroke-opacity="0.8"/>'  # a halo: the line stays visible on a bar
            f'<line x1="{num(x)}" y1="{num(label_y - 10)}" x2="{num(x)}" y2="{num(bottom)}" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="4 3"/>'
            + text(tx, label_y, label, size=SMALL, anchor=anchor, fill=colour)
            + "</g>"
        )
    return parts


def _daily_summary(card: Scorecard, bins: DailyBins, cutoffs: list[tuple[str, str, str, float]]) -> str:
    """The chart's text for a screen reader: how many sections, the highest and lowest
    score, the cut-offs, the sections in each zone."""
    frame = _participating(card)
    per_zone = {code: sum(c[code] for c in bins.counts) for code, _, _ in ZONES}
    lines = [f"{name} {display_text(value)}" for _, name, _, value in cutoffs] or ["暂无候选分数线"]
    return (
        f"{len(frame)} 个参评科室，日常评价得分最高 {display_text(frame[C.DAILY].max())}、"
        f"最低 {display_text(frame[C.DAILY].min())}；{'、'.join(lines)}；"
        + "、".join(f"{label} {per_zone[code]} 个" for code, label, _ in ZONES)
    )


# ---- 2. one section's components -----------------------------------------------------


def component_maxima(settings: RuleSettings) -> dict[str, float]:
    """Each component's maximum (docs/rules.md §2): 50, 10, 5, 20, 15 and the bonus cap 5."""
    s = settings
    return {
        C.SERVICE: 2 * s.service_round_points,
        C.PLATFORM_SCORE: s.platform_part_points + s.network_supervision_points,
        C.SUPERVISOR: s.supervisor_points,
        C.INSPECTION: s.inspection_points,
        C.NETWORK: s.network_points,
        C.BONUS: s.bonus_cap,
    }


def highest_daily(settings: RuleSettings) -> float:
    """The largest daily score the rules allow (85 by default)."""
    maxima = component_maxima(settings)
    return sum(maxima[c] for c in (C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION))


def _decimals(component: str) -> int:
    return 1 if component == C.SUPERVISOR else 2


def _name(row: Mapping[str, Any]) -> str:
    return f"{row.get(C.UNIT, '')} {row.get(C.SECTION, '')}".strip()


def section_components(row: Mapping[str, Any] | pd.Series, settings: RuleSettings) -> Markup:
    """One section's components, each a bar against its maximum; the network
    evaluation only when the section has one. An exempt section says 免评."""
    row = row.to_dict() if isinstance(row, pd.Series) else dict(row)
    title = f"{_name(row)} 得分构成"
    if not _missing(row.get(C.EXEMPT)) and bool(row.get(C.EXEMPT)):
        return notice(title, EXEMPT_NOTE, "chart-components")
    maxima = component_maxima(settings)
    shown = [(code, float(row[code])) for code in COMPONENTS if not _missing(row.get(code))]
    if not shown:
        return notice(title, NO_DATA, "chart-components")
    left, right, row_h = 100.0, WIDTH - 78.0, 28.0
    body = []
    texts = []
    for i, (code, value) in enumerate(shown):
        y = 8 + i * row_h
        most = maxima[code]
        fraction = min(max(value / most, 0.0), 1.0) if most > 0 else 0.0
        label = L.COMPONENTS[code]
        score = f"{display_text(value, _decimals(code))}/{_max_text(most)}"
        texts.append(f"{label} {score}")
        body.append(
            f'<g class="component" data-component="{code}">'
            f"<title>{esc(f'{label} {score} 分')}</title>"
            + text(4, y + 14, label)
            + f'<rect x="{num(left)}" y="{num(y + 3)}" width="{num(right - left)}" height="14" fill="{TRACK}" '
              f'stroke="{GRID}" stroke-width="1"/>'
            + f'<rect class="value" x="{num(left)}" y="{num(y + 3)}" width="{num((right - left) * fraction)}" '
              f'height="14" fill="{COMPONENT_COLOURS[code]}"/>'
            + text(WIDTH - 4, y + 14, score, size=12, anchor="end")
            + "</g>"
        )
    summary = "；".join(texts)
    if _missing(row.get(C.NETWORK)):
        summary += "；暂无网络评价"
    return svg(16 + len(shown) * row_h, title, summary, body, "chart-components")


# ---- 3. the candidates' totals -------------------------------------------------------

RANKING_TITLE = "候选科室总成绩排名"
RANK_LABEL_RIGHT = 116.0  # names end here
RANK_MARKER_X = 124.0  # result markers' centre
RANK_LEFT, RANK_RIGHT = 134.0, WIDTH - 44.0  # bars from 0 to the highest possible total
RANK_ROW = 18.0

# A marker per result: shape and fill tell them apart without colour.
_MARKERS = {
    C.SATISFIED: '<circle cx="{cx}" cy="{cy}" r="4.5" fill="%s"/>' % SATISFIED_COLOUR,
    C.UNSATISFIED: ('<path d="M{cx} {cy} m-5 -4 h10 l-5 9 z" fill="#fff" stroke="%s" stroke-width="1.5"/>'
                    % UNSATISFIED_COLOUR),
    C.MOST_UNSATISFIED: ('<path d="M{cx} {cy} m-5 -4 h10 l-5 9 z" fill="%s" stroke="%s" stroke-width="1.5"/>'
                         % (UNSATISFIED_COLOUR, UNSATISFIED_COLOUR)),
}


def highest_total(settings: RuleSettings) -> float:
    """The largest total the rules allow (85 + 15 + 5 = 105 by default)."""
    return sum(component_maxima(settings).values())


def ranking_right_end(card: Scorecard) -> float:
    """The points at the ranking's right end: the largest total allowed, or reached."""
    candidates = card.sections[C.TOTAL].dropna()
    return max(highest_total(card.settings), float(candidates.max()) if len(candidates) else 0.0)


def ranking_x(card: Scorecard, points: float, right_end: float | None = None) -> float:
    """The ranking's x (viewBox units) of a number of points from 0 (`right_end`: the
    card's ranking_right_end, passed by a caller placing many bars, which would
    otherwise scan every total once per bar)."""
    right_end = ranking_right_end(card) if right_end is None else right_end
    return RANK_LEFT + points / right_end * (RANK_RIGHT - RANK_LEFT)


def ranked_candidates(card: Scorecard) -> pd.DataFrame:
    """The sections with a total, best first, in the engine's order (total, then the
    tie-break chain)."""
    frame = card.sections[card.sections[C.TOTAL].notna()]
    if frame.empty:
        return frame
    keyed = frame.set_index([C.UNIT, C.SECTION], drop=False)
    keyed.index.names = ["_u", "_s"]
    ordered = order(keyed, C.TOTAL, True, card.settings.rank_decimals)
    return ordered[frame.columns].reset_index(drop=True)


def _code(value: object) -> str | None:
    return None if _missing(value) else str(value)


def final_ranking(card: Scorecard) -> Markup:
    """The candidates' totals as bars stacked by component, best first, with the
    result (as decided) marked; a note instead while the online round is pending."""
    if not card.network_held:
        return notice(RANKING_TITLE, NETWORK_NOT_HELD, "chart-ranking")
    frame = ranked_candidates(card)
    if frame.empty:
        return notice(RANKING_TITLE, NO_DATA, "chart-ranking")
    body, y = legend([(COMPONENT_COLOURS[c], L.COMPONENTS[c]) for c in COMPONENTS], 16)
    markers, y = legend([(_MARKERS[c], L.label(L.RESULTS, c)) for c in RESULT_CODES], y, swatch="marker")
    body += markers
    axis_top = y + 4
    top = axis_top + 8
    bottom = top + len(frame) * RANK_ROW
    right_end = ranking_right_end(card)
    body += _total_axis(card, frame, axis_top, top, bottom, right_end)
    body += [_ranking_bar(card, record, top + i * RANK_ROW, right_end)
             for i, record in enumerate(frame.to_dict("records"))]
    return svg(bottom + 44, RANKING_TITLE, _ranking_summary(frame), body, "chart-ranking")


def _total_axis(card: Scorecard, frame: pd.DataFrame, axis_top: float, top: float, bottom: float,
                right_end: float) -> list[str]:
    """A grid line every 20 points, labelled above and below the bars, and the axis' title."""
    parts = []
    limit = max(highest_total(card.settings), float(frame[C.TOTAL].max()))
    for tick in range(0, int(limit) + 1, 20):
        x = ranking_x(card, tick, right_end)
        parts.append(f'<line x1="{num(x)}" y1="{num(top)}" x2="{num(x)}" y2="{num(bottom)}" stroke="{GRID}" '
                     f'stroke-width="1"/>')
        for ty in (axis_top, bottom + 14):
            parts.append(text(x, ty, str(tick), size=SMALL, anchor="middle", fill=MUTED))
    parts.append(text((RANK_LEFT + RANK_RIGHT) / 2, bottom + 34, "总成绩（分）", size=SMALL, anchor="middle",
                       cls="axis-title"))
    return parts


def _ranking_tip(record: Mapping[str, Any], result: str | None) -> str:
    """A bar's tooltip: rank, name, total and its components, the result and the decision."""
    rank = record.get(C.TOTAL_RANK)
    parts_text = "、".join(
        f"{L.COMPONENTS[c]} {display_text(record[c], _decimals(c))}" for c in COMPONENTS if not _missing(record.get(c)))
    tip = f"{'' if _missing(rank) else f'第 {int(rank)} 名 '}{_name(record)}：总成绩 {display_text(record[C.TOTAL])}（{parts_text}）"
    if result:
        tip += f"；{L.label(L.RESULTS, result)}"
    decision = record.get(C.DECISION)
    if not _missing(decision) and decision:
        tip += f"；{decision}"
    return tip


def _ranking_bar(card: Scorecard, record: Mapping[str, Any], y0: float, right_end: float) -> str:
    """One candidate's row at `y0`: its name, its result's marker, its components
    stacked left to right (a negative one drawn as nothing), and its total."""
    result = _code(record.get(C.RESULT))
    name = _name(record)
    parts = [f"<title>{esc(_ranking_tip(record, result))}</title>",
             text(RANK_LABEL_RIGHT, y0 + 13, fit(name, RANK_LABEL_RIGHT - 4, 12), size=12, anchor="end")]
    if result in _MARKERS:
        parts.append(_MARKERS[result].format(cx=num(RANK_MARKER_X), cy=num(y0 + 9)))
    level = 0.0
    for c in COMPONENTS:
        value = 0.0 if _missing(record.get(c)) else max(float(record[c]), 0.0)
        if value > 0:
            x0, x1 = ranking_x(card, level, right_end), ranking_x(card, level + value, right_end)
            parts.append(f'<rect x="{num(x0)}" y="{num(y0 + 3)}" width="{num(x1 - x0)}" height="12" '
                         f'fill="{COMPONENT_COLOURS[c]}" data-component="{c}"/>')
            level += value
    parts.append(text(ranking_x(card, level, right_end) + 3, y0 + 13, display_text(record[C.TOTAL]), size=SMALL))
    return (f'<g class="bar" data-result="{esc(result or "")}" data-total="{display_text(record[C.TOTAL])}">'
            f'{"".join(parts)}</g>')


def _ranking_summary(frame: pd.DataFrame) -> str:
    """The chart's text for a screen reader: how many candidates, the highest and lowest
    total, the candidates in each result."""
    best, worst = frame.iloc[0], frame.iloc[-1]
    counts = "、".join(
        f"{L.label(L.RESULTS, c)} {int((frame[C.RESULT] == c).sum())} 个" for c in RESULT_CODES)
    return (
        f"{len(frame)} 个候选科室按总成绩从高到低排列；最高 {_name(best)} {display_text(best[C.TOTAL])}，"
        f"最低 {_name(worst)} {display_text(worst[C.TOTAL])}；{counts}"
    )
