"""Small schemes and records for the rule tests: a scheme from YAML text, records from
tuples, scored by the engine."""
from __future__ import annotations

import textwrap

import pandas as pd

from scoring.schemes import columns as S
from scoring.schemes.engine import COMPARISON_COLUMNS, ENTITY_COLUMNS, RECORD_COLUMNS, Result, score
from scoring.schemes.exact import to_milli
from scoring.schemes.scheme import Scheme, load_scheme

PERIOD = "2023-03"


def scheme_of(body: str, **top: object) -> Scheme:
    """A scheme of one module `m` holding the indicators in `body` (YAML, indented
    as list entries), for windows of one group; `top` overrides the top-level keys."""
    head = {"name": "测试方案", "kinds": "[window, staff]", "period": "month", "base": "100", "decimals": "2",
            "ranking": "{method: competition}"}
    head.update({key: str(value) for key, value in top.items()})
    modules = top.get("modules") or "\n  - id: m\n    name: '模块'\n    indicators:\n" + textwrap.indent(
        textwrap.dedent(body), "      ")
    lines = [f"{key}: {value}" for key, value in head.items() if key != "modules"]
    return load_scheme("\n".join(lines) + "\nmodules:" + str(modules) + "\n", "test.yaml")


def entities(*names: str, kind: str = "window", window: str = "", group: str = "all") -> pd.DataFrame:
    return pd.DataFrame([{S.ENTITY: name, S.GROUP: group, S.KIND: kind, S.ORDER: order, S.WINDOW: window}
                         for order, name in enumerate(names, 1)], columns=ENTITY_COLUMNS)


def records(*rows: tuple) -> pd.DataFrame:
    """(entity, indicator, count=1, value="", points="", note="", period=PERIOD)."""
    found = []
    for number, row in enumerate(rows, 2):
        entity, indicator, count, value, points, note, period = (*row, *[None] * (7 - len(row)))
        value = "" if value is None else str(value)
        try:
            figure = to_milli(value) if value else None
        except ValueError:
            figure = None
        found.append({S.PERIOD: period or PERIOD, S.ENTITY: entity, S.INDICATOR: indicator,
                      S.COUNT: 1 if count is None else count, S.VALUE: figure, S.LEVEL: value,
                      S.POINTS: None if points in (None, "") else to_milli(points), S.NOTE: note or "", S.ROW: number})
    frame = pd.DataFrame(found, columns=RECORD_COLUMNS)
    return frame.astype({S.VALUE: "Int64", S.POINTS: "Int64", S.COUNT: "int64", S.ROW: "int64"})


def comparison(*rows: tuple) -> pd.DataFrame:
    """(entity, indicator, place, value)."""
    return pd.DataFrame([{S.PERIOD: PERIOD, S.ENTITY: e, S.INDICATOR: i, S.PLACE: p, S.OTHER: to_milli(v)}
                         for e, i, p, v in rows], columns=COMPARISON_COLUMNS)


def run(scheme: Scheme, people: pd.DataFrame, rows: pd.DataFrame, others: pd.DataFrame | None = None,
        **options: object) -> Result:
    if PERIOD not in set(rows[S.PERIOD]):
        options.setdefault("periods", [PERIOD])
    return score(scheme, people, rows, others, **options)  # type: ignore[arg-type]


def totals(result: Result) -> dict[str, str]:
    """Each entity's unrounded total as text (100.5)."""
    from scoring.schemes.exact import text

    return {row[S.ENTITY]: text(row["total"]) for row in result.table.to_dict("records")}
