"""Inline SVG charts of an assessment's period page (templates/schemes/period.html),
from the engine's `Result` (docs/schemes.md §3): per group,

- `ranking`: the entities' totals as bars in the table's order (rank, then 序号), each
  with its rank and name, its total as text, a vetoed entity's bar hollow and dashed and
  its total followed by 否决, the flags (红旗窗口, stars) named in the bar's `<title>`;
- `trend`: for a period rolled up from the scheme's own periods (a quarter of months),
  each entity's total in each of those periods, a row of small multiples a member (a
  sparkline on one vertical scale for the group, the change from the first to the last
  period as text), readable on a phone.

Drawn with the report pages' pieces (voting/core/svg.py): a 360-unit viewBox,
`role="img"` with a Chinese `aria-label` (the title and a summary, also in `<title>`
and `<desc>`), every name escaped, colour never the only carrier of meaning. The charts
accompany the tables, which keep every number: the page is whole without them.

Decisions:
- Every number shown is the table's text of the total as the engine rounded it
  (integer thousandths, half up to the scheme's decimals, `exact.text`); differences
  are taken on those integers. Floats only place the shapes.
- The bars share one scale from 0 to the group's highest total (the scheme's maximum
  is not known in general: indicators apply by kind, a `sum` roll-up adds periods); a
  negative total is a bar left of the 0 line.
- The trend's periods are given, as each period's own page shows them (`Result`s of
  one period each, or one `Result` of several); rows follow `order` (the longer
  period's ranking) when given, else 序号.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from markupsafe import Markup

from scoring.schemes import exact
from scoring.schemes.columns import ENTITY, GROUP, ORDER, PERIOD
from scoring.schemes.engine import FLAGS, RANK, ROUNDED, TIED, VETOED, Result
from scoring.schemes.output import period_text
from scoring.schemes.scheme import Scheme
from voting.core.svg import GRID, MUTED, SMALL, TRACK, WIDTH, esc, fit, legend, notice, num, svg, text, text_width

BAR_COLOUR = "#0072b2"  # Okabe & Ito blue, as the scores' service component
VETO_COLOUR = "#c92a2a"
NO_ENTITIES = "这一组暂无考核对象"
VETO_WORD = "否决"

# A vetoed entity's bar and the legend's swatch of it: hollow, dashed.
_HOLLOW = 'fill="#fff" stroke="%s" stroke-width="1.2" stroke-dasharray="3 2"' % VETO_COLOUR
_LEGEND_BAR = '<path d="M{cx} {cy} m-5 -4 h10 v8 h-10 z" fill="%s"/>' % BAR_COLOUR
_LEGEND_VETO = '<path d="M{cx} {cy} m-5 -4 h10 v8 h-10 z" %s/>' % _HOLLOW
# A period's total in the trend: a dot, or a cross when the entity was vetoed in it.
_DOT = '<circle cx="{cx}" cy="{cy}" r="2.4" fill="%s"/>' % BAR_COLOUR
_CROSS = '<path d="M{cx} {cy} m-3 -3 l6 6 m0 -6 l-6 6" stroke="%s" stroke-width="1.6" fill="none"/>' % VETO_COLOUR


def _one_period(result: Result) -> None:
    if result.table[PERIOD].nunique() > 1:
        raise ValueError("排名图只画一个期间的结果")


def _members(result: Result, group: str) -> list[dict[str, Any]]:
    """The group's rows in the table's order: rank, then 序号."""
    table = result.table[result.table[GROUP] == group]
    return table.sort_values([RANK, ORDER], kind="stable").to_dict("records")


def _step(span: int) -> int:
    """A tick step in thousandths (1, 2, 5 × a power of ten) giving at most 5 steps over `span`."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if span <= 5 * step * m:
                return step * m
        step *= 10


# ---- 1. the ranking ----------------------------------------------------------------------------

RANK_RIGHT = 24.0  # rank numbers end here
NAME_LEFT, NAME_RIGHT = 28.0, 128.0  # names, cut to fit
BAR_LEFT = 132.0
MIN_BAR_RIGHT = BAR_LEFT + 80
BAR_ROW = 20.0


def ranking_title(scheme: Scheme, group: str) -> str:
    return f"{scheme.group_name(group)}得分排名"


@dataclass(frozen=True)
class _Scale:
    """Points (thousandths) from `lo` to `hi` drawn from BAR_LEFT to `right`."""

    lo: int
    hi: int
    right: float

    def x(self, milli: int) -> float:
        return BAR_LEFT + (milli - self.lo) / (self.hi - self.lo) * (self.right - BAR_LEFT)


def ranking(result: Result, group: str) -> Markup:
    """The group's totals of one period as horizontal bars, best first (see the module)."""
    _one_period(result)
    scheme = result.scheme
    title = ranking_title(scheme, group)
    members = _members(result, group)
    if not members:
        return notice(title, NO_ENTITIES, "chart-ranking")
    flag_names = {flag.id: flag.name for flag in scheme.flags}
    totals = [int(m[ROUNDED]) for m in members]
    shown = [exact.text(total) for total in totals]
    vetoed = [bool(m[VETOED]) for m in members]
    # The totals' column: right of each bar, as wide as the widest total (and 否决).
    room = max(text_width(s + (f" {VETO_WORD}" if v else ""), SMALL) for s, v in zip(shown, vetoed))
    lo, hi = min(0, *totals), max(0, *totals)
    scale = _Scale(lo, hi if hi > lo else lo + exact.MILLI, max(MIN_BAR_RIGHT, WIDTH - 4 - room - 4))

    body: list[str] = []
    y = 4.0
    if any(vetoed):
        drawn, y = legend([(_LEGEND_BAR, "得分"), (_LEGEND_VETO, "一票否决（本期不参加评优）")], 16, swatch="marker")
        body += drawn
    axis_top = y + 8
    top = axis_top + 6
    bottom = top + len(members) * BAR_ROW
    body += _axis(scale, axis_top, top, bottom)
    for i, (member, total, text_shown, veto) in enumerate(zip(members, totals, shown, vetoed)):
        body.append(_bar(member, total, text_shown, veto, scale, top + i * BAR_ROW, flag_names))
    return svg(bottom + 40, title, _ranking_summary(members, shown, flag_names), body, "chart-ranking")


def _axis(scale: _Scale, axis_top: float, top: float, bottom: float) -> list[str]:
    """A grid line at each tick (every 1, 2 or 5 × 10ⁿ points), labelled above and below
    the bars, the 0 line darker, and the axis' title."""
    parts = []
    step = _step(scale.hi - scale.lo)
    first = -(-scale.lo // step) * step  # the first multiple of step at or above lo
    for tick in range(first, scale.hi + 1, step):
        x = scale.x(tick)
        colour = MUTED if tick == 0 else GRID
        parts.append(f'<line x1="{num(x)}" y1="{num(top)}" x2="{num(x)}" y2="{num(bottom)}" stroke="{colour}" '
                     f'stroke-width="1"/>')
        for ty in (axis_top, bottom + 14):
            parts.append(text(x, ty, exact.text(tick), size=SMALL, anchor="middle", fill=MUTED))
    parts.append(text((BAR_LEFT + scale.right) / 2, bottom + 32, "总分（分）", size=SMALL, anchor="middle",
                      cls="axis-title"))
    return parts


def _bar(member: dict[str, Any], total: int, shown: str, vetoed: bool, scale: _Scale, y0: float,
         flag_names: dict[str, str]) -> str:
    """One entity's row at `y0`: rank, name, the bar from 0 to its total, the total."""
    rank = int(member[RANK])
    tip = f"第{rank}名{'（并列）' if member[TIED] else ''} {member[ENTITY]}：总分 {shown} 分"
    if vetoed:
        tip += "；一票否决，本期不参加评优"
    flags = [flag_names.get(f, f) for f in member[FLAGS]]
    if flags:
        tip += "；" + "、".join(flags)
    zero, end = scale.x(0), scale.x(total)
    x0, x1 = min(zero, end), max(zero, end)
    fill = _HOLLOW if vetoed else f'fill="{BAR_COLOUR}"'
    parts = [
        f"<title>{esc(tip)}</title>",
        text(RANK_RIGHT, y0 + 14, str(rank), size=12, anchor="end", cls="rank"),
        text(NAME_LEFT, y0 + 14, fit(str(member[ENTITY]), NAME_RIGHT - NAME_LEFT, 12), size=12, cls="name"),
        f'<rect x="{num(x0)}" y="{num(y0 + 4)}" width="{num(x1 - x0)}" height="12" {fill}/>',
        text(x1 + 3, y0 + 14, shown, size=SMALL, cls="total"),
    ]
    if vetoed:
        parts.append(text(x1 + 3 + text_width(shown + " ", SMALL), y0 + 14, VETO_WORD, size=SMALL,
                          fill=VETO_COLOUR, cls="veto"))
    attrs = (f' data-rank="{rank}" data-total="{shown}" data-vetoed="{"true" if vetoed else "false"}"'
             f' data-flags="{esc("、".join(flags))}"')
    return f'<g class="bar"{attrs}>{"".join(parts)}</g>'


def _ranking_summary(members: list[dict[str, Any]], shown: list[str], flag_names: dict[str, str]) -> str:
    """For a screen reader: the first (all of them, when tied), how many, the last, the
    vetoed and the flags."""
    first = [(m, s) for m, s in zip(members, shown) if m[RANK] == members[0][RANK]]
    names = "、".join(str(m[ENTITY]) for m, _ in first)
    summary = f"第{int(members[0][RANK])}名 {names}（{first[0][1]} 分），共 {len(members)} 个对象"
    if len(members) > len(first):
        summary += f"；最后 {members[-1][ENTITY]}（{shown[-1]} 分）"
    vetoed = sum(bool(m[VETOED]) for m in members)
    if vetoed:
        summary += f"；一票否决 {vetoed} 个"
    for flag, name in flag_names.items():
        given = sum(flag in m[FLAGS] for m in members)
        if given:
            summary += f"；{name} {given} 个"
    return summary


# ---- 2. the periods of a longer one ----------------------------------------------------------

TREND_NAME_RIGHT = 104.0  # names from 4, cut to fit
SPARK_LEFT = 116.0
TREND_ROW = 22.0


def trend_title(scheme: Scheme, group: str) -> str:
    return f"{scheme.group_name(group)}各期得分"


def _table_of(months: Result | Sequence[Result]) -> tuple[Scheme, pd.DataFrame]:
    if isinstance(months, Result):
        return months.scheme, months.table
    if not months:
        raise ValueError("没有任何期间的结果")
    return months[0].scheme, pd.concat([r.table for r in months], ignore_index=True)


def _same_year(labels: list[str]) -> bool:
    return len({label.partition("-")[0] for label in labels}) == 1


def _short(label: str, same_year: bool) -> str:
    """A period's label under its column: 7月, 3季度, 上半年 (the label itself across years)."""
    year, _, part = label.partition("-")
    if not same_year:
        return label
    if not part:
        return f"{year}年"
    if part.startswith("Q"):
        return f"{part[1]}季度"
    if part.startswith("H"):
        return "上半年" if part[1] == "1" else "下半年"
    return f"{int(part)}月"


@dataclass(frozen=True)
class _Point:
    total: int
    rank: int
    tied: bool
    vetoed: bool


def trend(months: Result | Sequence[Result], group: str, order: Sequence[str] | None = None) -> Markup:
    """Each of the group's entities' totals over the periods in `months` (see the module)."""
    scheme, table = _table_of(months)
    title = trend_title(scheme, group)
    table = table[table[GROUP] == group]
    labels = sorted(set(table[PERIOD]))
    if table.empty:
        return notice(title, NO_ENTITIES, "chart-trend")
    by_order = table.groupby(ENTITY, sort=False)[ORDER].min().sort_values(kind="stable")
    present = list(by_order.index)
    names = [n for n in dict.fromkeys(order or ()) if n in by_order.index]
    names += [n for n in present if n not in set(names)]
    points = {(row[ENTITY], row[PERIOD]): _Point(int(row[ROUNDED]), int(row[RANK]), bool(row[TIED]), bool(row[VETOED]))
              for row in table.to_dict("records")}
    totals = [p.total for p in points.values()]
    lo, hi = min(totals), max(totals)

    changes = {name: _change([points[(name, label)] for label in labels if (name, label) in points]) for name in names}
    heading = f"较{_short(labels[0], _same_year(labels))}"  # the change since the first period
    room = max(text_width(heading, SMALL), *(text_width(c or "—", SMALL) for c in changes.values()))
    right = max(SPARK_LEFT + 40, WIDTH - 4 - room - 20)
    xs = ([(SPARK_LEFT + right) / 2] if len(labels) == 1
          else [SPARK_LEFT + i * (right - SPARK_LEFT) / (len(labels) - 1) for i in range(len(labels))])

    body = _trend_header(labels, xs, heading)
    top = 24.0
    for i, name in enumerate(names):
        body.append(_trend_row(name, labels, xs, points, changes[name], lo, hi, top + i * TREND_ROW, right))
    bottom = top + len(names) * TREND_ROW
    notes = [f"横轴：{period_text(labels[0])}至{period_text(labels[-1])}（{len(labels)} 期）",
             f"纵轴：{exact.text(lo)} 至 {exact.text(hi)} 分（各行相同）"]
    body += [text(4, bottom + 16 * (i + 1), fit(note, WIDTH - 8, SMALL), size=SMALL, fill=MUTED, cls="axis-title")
             for i, note in enumerate(notes)]
    height = bottom + 16 * len(notes) + 8
    if any(p.vetoed for p in points.values()):
        drawn, height = legend([(_CROSS, "该期一票否决")], height + 12, swatch="marker")
        body += drawn
    return svg(height, title, _trend_summary(labels, names, changes, lo, hi), body, "chart-trend")


def _change(series: list[_Point]) -> str | None:
    """The last shown total less the first, signed (+1.5, -0.25, 0); None with one period."""
    if len(series) < 2:
        return None
    return exact.text(series[-1].total - series[0].total, signed=True)


def _trend_header(labels: list[str], xs: list[float], heading: str) -> list[str]:
    """The columns' labels (every k-th when they would touch), 对象 and the change's `heading`."""
    same_year = _same_year(labels)
    shown = [_short(label, same_year) for label in labels]
    widest = max(text_width(s, SMALL) for s in shown)
    if len(xs) > 1 and widest + 4 > xs[1] - xs[0] and same_year and all("月" in s for s in shown):
        shown = [s.removesuffix("月") for s in shown]  # 1 … 12, the note below says months
        widest = max(text_width(s, SMALL) for s in shown)
    every = 1 if len(xs) < 2 else max(1, math.ceil((widest + 4) / (xs[1] - xs[0])))
    parts = [text(4, 14, "对象", size=SMALL, fill=MUTED)]
    parts += [text(x, 14, s, size=SMALL, anchor="middle", fill=MUTED, cls="period")
              for i, (x, s) in enumerate(zip(xs, shown)) if i % every == 0]
    parts.append(text(WIDTH - 4, 14, heading, size=SMALL, anchor="end", fill=MUTED))
    return parts


def _trend_row(name: str, labels: list[str], xs: list[float], points: dict[tuple[str, str], _Point],
               change: str | None, lo: int, hi: int, y0: float, right: float) -> str:
    """One entity: its name, a band with its totals joined period to period (a gap where a
    period lacks it), a dot a period (a cross when vetoed), and the change."""

    def y(total: int) -> float:
        return y0 + 11 if hi == lo else y0 + 17 - (total - lo) / (hi - lo) * 12

    parts = [f"<title>{esc(name)}</title>",
             text(4, y0 + 15, fit(name, TREND_NAME_RIGHT - 4, 12), size=12, cls="name"),
             f'<rect x="{num(SPARK_LEFT - 6)}" y="{num(y0 + 2)}" width="{num(right - SPARK_LEFT + 12)}" '
             f'height="18" fill="{TRACK}"/>']
    run: list[str] = []
    lines: list[str] = []
    for x, label in zip(xs, labels):
        point = points.get((name, label))
        if point is None:
            if len(run) > 1:
                lines.append(" ".join(run))
            run = []
            continue
        run.append(f"{num(x)},{num(y(point.total))}")
    if len(run) > 1:
        lines.append(" ".join(run))
    parts += [f'<polyline points="{line}" fill="none" stroke="{BAR_COLOUR}" stroke-width="1.5"/>' for line in lines]
    for x, label in zip(xs, labels):
        point = points.get((name, label))
        if point is None:
            continue
        shown = exact.text(point.total)
        tip = (f"{period_text(label)}：{shown} 分，第{point.rank}名{'（并列）' if point.tied else ''}"
               + ("，一票否决" if point.vetoed else ""))
        mark = (_CROSS if point.vetoed else _DOT).format(cx=num(x), cy=num(y(point.total)))
        parts.append(f'<g class="point" data-period="{label}" data-total="{shown}" '
                     f'data-vetoed="{"true" if point.vetoed else "false"}"><title>{esc(tip)}</title>{mark}</g>')
    parts.append(text(WIDTH - 4, y0 + 15, change or "—", size=SMALL, anchor="end", cls="change"))
    return f'<g class="row" data-change="{change or ""}">{"".join(parts)}</g>'


def _trend_summary(labels: list[str], names: list[str], changes: dict[str, str | None], lo: int, hi: int) -> str:
    """For a screen reader: the periods, how many entities, the scale, who rose or fell."""
    summary = (f"{period_text(labels[0])}至{period_text(labels[-1])}共 {len(labels)} 期，{len(names)} 个对象各期的总分，"
               f"各行纵轴相同（{exact.text(lo)} 至 {exact.text(hi)} 分）")
    moved = [c for c in changes.values() if c is not None]
    if moved:
        up = sum(c.startswith("+") for c in moved)
        down = sum(c.startswith("-") for c in moved)
        summary += f"；与第一期相比，上升 {up} 个、下降 {down} 个、持平 {len(moved) - up - down} 个"
    return summary


# ---- the page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupCharts:
    ranking: Markup
    trend: Markup | None  # only for a period rolled up from two or more of the scheme's periods


def for_period(one: Result, parts: Result | Sequence[Result] | None = None) -> dict[str, GroupCharts]:
    """The period page's charts of each group with members, by group id: its ranking, and
    with `parts` (the results of the scheme's periods inside a longer one) covering two
    or more periods, their trend, rows in the ranking's order."""
    _one_period(one)
    several = _table_of(parts)[1][PERIOD].nunique() > 1 if parts else False
    found = {}
    for group in one.scheme.groups:
        members = _members(one, group.id)
        if members:
            drawn = trend(parts, group.id, [m[ENTITY] for m in members]) if several and parts else None
            found[group.id] = GroupCharts(ranking(one, group.id), drawn)
    return found
