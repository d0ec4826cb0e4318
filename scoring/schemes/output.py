"""A scheme's results as people and programs read them: the JSON object of
`pingyi scheme score --json` (docs/schemes.md §3) and the written explanation of an
entity's points (Enyang's 加扣分原因及分值)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from scoring.schemes import exact
from scoring.schemes.columns import ENTITY, GROUP, INDICATOR, MODULE, NOTE, POINTS, ROW
from scoring.schemes.engine import FLAGS, RANK, ROUNDED, TIED, TOTAL, VETOED, Result, module_column


def number(milli: int) -> int | float:
    """Thousandths as a JSON number whose text is the exact decimal: 107562 → 107.562
    (a float's shortest form of a figure of at most 15 digits is that figure)."""
    value = exact.to_decimal(milli)
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    assert Decimal(repr(as_float)) == value, value  # at most 15 significant digits always holds here
    return as_float


def as_json(result: Result, period: str) -> dict[str, Any]:
    """{"scheme", "period", "entities": [{"group", "entity", "total", "rounded", "rank",
    "tied", "modules", "items", "vetoed", "flags"}], "warnings"}: totals unrounded and
    rounded, in each group's rank order."""
    scheme = result.scheme
    one = result.period(period)
    items = one.items
    by_entity = {name: frame for name, frame in items.groupby(ENTITY, sort=False)}
    names = {i.id: i.name for i in scheme.indicators}
    modules = {m.id: m.name for m in scheme.modules}
    entities = []
    for row in one.table.to_dict("records"):
        own = by_entity.get(row[ENTITY], items.iloc[0:0])
        entities.append({
            "group": scheme.group_name(row[GROUP]), "entity": row[ENTITY],
            "total": number(row[TOTAL]), "rounded": number(row[ROUNDED]), "rank": int(row[RANK]),
            "tied": bool(row[TIED]),
            "modules": {modules[m.id]: number(int(row[module_column(m.id)])) for m in scheme.modules},
            "items": [{"indicator": names.get(item[INDICATOR], modules.get(item[MODULE], "")),
                       "points": number(int(item[POINTS])), "note": item[NOTE],
                       "row": None if pd.isna(item[ROW]) else int(item[ROW])}
                      for item in own.to_dict("records")],
            "vetoed": bool(row[VETOED]),
            "flags": [next(f.name for f in scheme.flags if f.id == flag) for flag in row[FLAGS]],
        })
    return {"scheme": scheme.name, "period": period, "entities": entities, "warnings": list(one.warnings)}


def explanation(items: pd.DataFrame) -> str:
    """An entity's items written out, one reason a line with its points (the
    published 加扣分原因及分值); starts and caps' adjustments included, so that the
    lines add up to the score; 无加扣分 when there is none."""
    lines = []
    for item in items.to_dict("records"):
        if item[POINTS] == 0 and not item[NOTE]:
            continue
        note = str(item[NOTE]).rstrip("。；，" + ";, ")
        points = int(item[POINTS])
        stated = exact.text(points)
        if stated.lstrip("-") in note:
            lines.append(note + "。")
        else:
            verb = "加" if points > 0 else "扣"
            lines.append(f"{note}，{verb}{exact.text(abs(points))}分。")
    return "\n".join(lines) if lines else "无加扣分"




def period_text(period: str) -> str:
    """2020-07 → 2020年7月，2023-Q1 → 2023年第1季度，2021-H2 → 2021年下半年，2021 → 2021年度."""
    year, _, part = period.partition("-")
    if not part:
        return f"{year}年度"
    if part.startswith("Q"):
        return f"{year}年第{part[1]}季度"
    if part.startswith("H"):
        return f"{year}年{'上' if part[1] == '1' else '下'}半年"
    return f"{year}年{int(part)}月"


def title(result: Result, period: str) -> str:
    scheme = result.scheme
    return (scheme.title or "{period}" + scheme.name).replace("{period}", period_text(period))
