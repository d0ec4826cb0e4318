"""A scheme (考核方案, docs/schemes.md §1): what it assesses, its modules and
indicators with their rules, its ranking, rounding and flags; read from the YAML text
an office writes, with every error naming its line and field.

All points are integer thousandths (scoring.schemes.exact)."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from scoring.schemes.exact import NotExact, to_milli

KINDS = {"window": "窗口", "department": "部门", "town": "镇街", "staff": "人员"}
PERIODS = {"month": "月", "quarter": "季度", "half-year": "半年", "year": "年度"}
RANKINGS = {"dense": "密集排名（1、1、2）", "competition": "竞争排名（1、1、3）", "ordinal": "顺序排名（1、2、3）"}
# Each rule kind: its parameters (required ones marked True).
RULES: dict[str, dict[str, bool]] = {
    "fixed": {"points": True, "missing": False},
    "choice": {"levels": True, "missing": False},
    "per_event": {"points": False, "tiers": False, "cap": False},
    "escalating": {"steps": True},
    "bands": {"bands": True, "of": False, "missing": False},
    "rate": {"table": True, "below": False},
    "rank": {"self": False, "points": True},
    "bottom": {"points": True},
    "carried": {"points": True},
    "staff_deductions": {},
    "staff_mean": {"weight": True},
    "observed": {},
    "measure": {},
    "veto": {},
    "mark": {"blocks": True},
}
RULE_LABELS = {
    "fixed": "定额加扣分", "choice": "分档评定", "per_event": "按次计分", "escalating": "累进扣分",
    "bands": "区间计分", "rate": "比率计分", "rank": "对比名次计分", "bottom": "末位扣分", "carried": "上期亮牌",
    "staff_deductions": "人员扣分计入窗口", "staff_mean": "人员平均分折算", "observed": "据实录入",
    "measure": "统计数（不计分）", "veto": "一票否决", "mark": "取消评优资格",
}
# Rules whose points come from other entities' results (the window's staff).
STAFF_RULES = {"staff_deductions", "staff_mean"}
FLAG_KINDS = {"top_n": {"n": True}, "top_fraction": {"fraction": True, "count": False}}
COUNT_ROUNDING = ("half_up", "floor", "ceil")
# The citizen ratings' figures (好差评, voting/ratings/figures.py) an indicator may take its
# records from (`figure:`): the platform writes the entity's figure of the period as the
# record's 数值 (a rate as a percentage, 差评数 as the count).
FIGURES = ("好评率", "差评数", "差评整改率", "回访满意率", "主动评价率", "12345省级件回访满意率", "12345市级件回访满意率")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# The largest figure a scheme may hold, in thousandths (a million points): sums of a
# county's records stay far inside 64-bit integers.
MOST = 10**9


@dataclass(frozen=True)
class Rule:
    kind: str
    points: int | None = None
    missing: int | str | None = None  # points, or (choice) a level's name
    cap: int | None = None
    levels: dict[str, int] = field(default_factory=dict)  # choice, carried
    tiers: tuple[tuple[int, int], ...] = ()  # per_event: (at least, points)
    steps: tuple[tuple[int, int], ...] = ()  # escalating: (count, points)
    bands: tuple[tuple[int, int | None, int], ...] = ()  # (from, to, points)
    of: str = "count"  # bands: "count" or "value"
    table: tuple[tuple[int, int], ...] = ()  # rate: (at least, points), highest first
    below: int | str | None = None  # rate: points, or "observed"
    place: str = ""  # rank: this place's name in the comparison
    ladder: tuple[int, ...] = ()  # rank, bottom: points by place
    weight: int | None = None  # staff_mean
    blocks: tuple[str, ...] = ()  # mark: flag ids


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    module: str
    rule: Rule
    start: int = 0
    max: int | None = None
    min: int | None = None
    content: str = ""
    office: str = ""
    kinds: frozenset[str] | None = None  # None: every kind
    line: int = 0
    figure: str = ""  # one of FIGURES: the records come from the citizen ratings' figures; "" none

    def applies_to(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


@dataclass(frozen=True)
class Module:
    id: str
    name: str
    indicators: tuple[Indicator, ...]
    start: int = 0
    max: int | None = None
    min: int | None = None


@dataclass(frozen=True)
class Flag:
    id: str
    name: str
    kind: str  # top_n, top_fraction
    n: int = 0
    fraction: int = 0  # thousandths of one
    count: str = "half_up"
    of: frozenset[str] | None = None
    skip_deducted: bool = False
    after: str = ""


@dataclass(frozen=True)
class Group:
    id: str
    name: str


@dataclass(frozen=True)
class Scheme:
    name: str
    kinds: tuple[str, ...]
    groups: tuple[Group, ...]
    period: str
    modules: tuple[Module, ...]
    source: str = ""
    rollup: str = "mean"
    base: int = 0
    floor: int | None = None
    decimals: int = 2
    ranking: str = "competition"
    tie_break: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()
    title: str = ""  # the published table's title ({period} stands for the period)
    signatures: tuple[str, ...] = ()  # the signature lines printed above the table

    @property
    def indicators(self) -> list[Indicator]:
        return [indicator for module in self.modules for indicator in module.indicators]

    def indicator(self, reference: str) -> Indicator | None:
        """By id, or by name when one indicator has it."""
        for indicator in self.indicators:
            if indicator.id == reference:
                return indicator
        named = [indicator for indicator in self.indicators if indicator.name == reference]
        return named[0] if len(named) == 1 else None

    def group(self, reference: str) -> Group | None:
        return next((g for g in self.groups if reference in (g.id, g.name)), None)

    def group_name(self, group_id: str) -> str:
        found = self.group(group_id)
        return found.name if found else group_id


class SchemeError(ValueError):
    """A scheme that cannot be used: each problem is (line, field, Chinese message)."""

    def __init__(self, source: str, problems: list[tuple[int, str, str]]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source} 第 {line} 行，{where}：{message}" if where else f"{self.source} 第 {line} 行：{message}"
                for line, where, message in self.problems]


# ---- reading: YAML nodes, so that every error can name its line ------------------------

class _Reader:
    """Walks the YAML node tree, collecting every problem before giving up."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str, str]] = []

    def fail(self, node: yaml.Node | None, where: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append((line, where, message))

    def mapping(self, node: yaml.Node, where: str, allowed: dict[str, bool]) -> dict[str, yaml.Node] | None:
        """A mapping's keys → value nodes; unknown keys and missing required ones reported."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, where, "应为映射（每行写作 键、英文冒号、值，例如 max: 10）")
            return None
        found: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in found:
                self.fail(key, _join(where, name), "重复的键")
            elif name not in allowed:
                self.fail(key, _join(where, name), "不认识的键，可用的有：" + "、".join(allowed))
            else:
                found[name] = value
        for name, required in allowed.items():
            if required and name not in found:
                self.fail(node, where, f"缺少 {name}")
        return found

    def sequence(self, node: yaml.Node, where: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, where, "应为列表")
            return []
        return list(node.value)

    def scalar(self, node: yaml.Node, where: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, where, "应为单个值")
            return None
        return str(node.value)

    def text(self, node: yaml.Node | None, where: str, default: str = "") -> str:
        if node is None:
            return default
        value = self.scalar(node, where)
        return (value or "").strip()

    def ident(self, node: yaml.Node | None, where: str) -> str:
        value = self.text(node, where)
        if node is not None and not _ID.fullmatch(value):
            self.fail(node, where, f"“{value}”不是有效的编号：应为字母开头的字母、数字或下划线")
        return value

    def points(self, node: yaml.Node | None, where: str, default: int | None = None) -> int | None:
        """A number of points: exact, at most three decimals."""
        if node is None:
            return default
        value = self.scalar(node, where)
        if value is None:
            return default
        if value.strip().lower() in ("null", "~", ""):
            return None
        try:
            milli = to_milli(value)
        except NotExact as error:
            self.fail(node, where, str(error))
            return default
        if abs(milli) > MOST:
            self.fail(node, where, f"“{value}”过大：绝对值不超过 {MOST // 1000}")
            return default
        return milli

    def count(self, node: yaml.Node | None, where: str, default: int = 0) -> int:
        milli = self.points(node, where)
        if milli is None:
            return default
        if milli % 1000 or milli < 0:
            self.fail(node, where, "应为不小于 0 的整数")
            return default
        return milli // 1000

    def choice(self, node: yaml.Node | None, where: str, options: Any, default: str) -> str:
        if node is None:
            return default
        value = self.text(node, where)
        if value not in options:
            self.fail(node, where, f"“{value}”不可用，可用的有：" + "、".join(options))
            return default
        return value

    def kinds(self, node: yaml.Node | None, where: str) -> frozenset[str] | None:
        if node is None:
            return None
        found = set()
        for index, item in enumerate(self.sequence(node, where)):
            found.add(self.choice(item, f"{where}[{index}]", KINDS, "window"))
        return frozenset(found)

    def pairs(self, node: yaml.Node, where: str, size: int, convert: list[Callable]) -> list[tuple]:
        """A list of [a, b] (or [a, b, c]) entries, each converted."""
        found = []
        for index, item in enumerate(self.sequence(node, where)):
            entry = f"{where}[{index}]"
            parts = self.sequence(item, entry)
            if len(parts) != size:
                if parts:
                    self.fail(item, entry, f"应为 {size} 个值的列表")
                continue
            found.append(tuple(make(self, part, f"{entry}[{i}]") for i, (make, part) in enumerate(zip(convert, parts))))
        return found


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _points(reader: _Reader, node: yaml.Node, where: str) -> int | None:
    return reader.points(node, where)


def _count(reader: _Reader, node: yaml.Node, where: str) -> int:
    return reader.count(node, where)


def _rule(reader: _Reader, node: yaml.Node, where: str) -> Rule:
    if isinstance(node, yaml.ScalarNode):  # shorthand: `rule: observed`
        kind = reader.choice(node, where, RULES, "observed")
        if RULES[kind] and any(RULES[kind].values()):
            reader.fail(node, where, f"规则 {kind} 需要参数：" + "、".join(k for k, r in RULES[kind].items() if r))
        return Rule(kind)
    keys = reader.mapping(node, where, {"kind": True, **{k: False for spec in RULES.values() for k in spec}})
    if keys is None or "kind" not in keys:
        return Rule("observed")
    kind = reader.choice(keys["kind"], _join(where, "kind"), RULES, "observed")
    spec = RULES[kind]
    for name, value in keys.items():
        if name != "kind" and name not in spec:
            reader.fail(value, _join(where, name), f"规则 {kind} 没有参数 {name}，可用的有：" + ("、".join(spec) or "无"))
    for name, required in spec.items():
        if required and name not in keys:
            reader.fail(node, where, f"规则 {kind} 缺少参数 {name}")
    at = lambda name: _join(where, name)  # noqa: E731
    rule: dict[str, Any] = {"kind": kind}
    if "points" in keys:
        if kind in ("rank", "bottom"):
            rule["ladder"] = tuple(reader.points(item, f"{at('points')}[{i}]") or 0
                                   for i, item in enumerate(reader.sequence(keys["points"], at("points"))))
        elif kind == "carried":
            rule["levels"] = _levels(reader, keys["points"], at("points"))
        else:
            rule["points"] = reader.points(keys["points"], at("points"))
    if "levels" in keys:
        rule["levels"] = _levels(reader, keys["levels"], at("levels"))
    if "missing" in keys:
        value = reader.text(keys["missing"], at("missing"))
        if kind == "choice" and value in rule.get("levels", {}):
            rule["missing"] = value
        else:
            rule["missing"] = reader.points(keys["missing"], at("missing"))
    if "cap" in keys:
        cap = reader.points(keys["cap"], at("cap"))
        if cap is not None and cap < 0:
            reader.fail(keys["cap"], at("cap"), "封顶分值应为正数（扣分和加分都按绝对值封顶）")
        rule["cap"] = cap
    if "tiers" in keys:
        rule["tiers"] = tuple(sorted(reader.pairs(keys["tiers"], at("tiers"), 2, [_points, _points])))
    if "steps" in keys:
        rule["steps"] = tuple(sorted(reader.pairs(keys["steps"], at("steps"), 2, [_count, _points])))
    if "bands" in keys:
        rule["bands"] = tuple(reader.pairs(keys["bands"], at("bands"), 3, [_points, _points, _points]))
    if "of" in keys:
        rule["of"] = reader.choice(keys["of"], at("of"), ("count", "value"), "count")
    if "table" in keys:
        rule["table"] = tuple(sorted(reader.pairs(keys["table"], at("table"), 2, [_points, _points]), reverse=True))
    if "below" in keys:
        value = reader.text(keys["below"], at("below"))
        rule["below"] = "observed" if value == "observed" else reader.points(keys["below"], at("below"))
    if "self" in keys:
        rule["place"] = reader.text(keys["self"], at("self"))
    if "weight" in keys:
        rule["weight"] = reader.points(keys["weight"], at("weight"))
    if "blocks" in keys:
        rule["blocks"] = tuple(reader.text(item, f"{at('blocks')}[{i}]")
                               for i, item in enumerate(reader.sequence(keys["blocks"], at("blocks"))))
    if kind == "per_event" and ("points" in keys) == ("tiers" in keys):
        reader.fail(node, where, "规则 per_event 需要 points（每次的分值）或 tiers（按数值分档），二者选一")
    for low, high, _ in rule.get("bands", ()):
        if high is not None and low is not None and high < low:
            reader.fail(keys["bands"], at("bands"), f"区间 {low / 1000:g}–{high / 1000:g} 的上限小于下限")
    return Rule(**rule)


def _levels(reader: _Reader, node: yaml.Node, where: str) -> dict[str, int]:
    levels: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        reader.fail(node, where, "应为映射（每一档写作 名称、英文冒号、分值）")
        return levels
    for key, value in node.value:
        name = str(key.value).strip()
        levels[name] = reader.points(value, _join(where, name)) or 0
    if not levels:
        reader.fail(node, where, "至少要有一档")
    return levels


def load_scheme(text: str, source: str = "方案") -> Scheme:
    """The scheme in `text` (YAML), or SchemeError naming each bad line and field."""
    reader = _Reader()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SchemeError(source, [(line, "", f"YAML 格式错误：{getattr(error, 'problem', None) or error}")]) from None
    if root is None:
        raise SchemeError(source, [(1, "", "文件是空的")])
    keys = reader.mapping(root, "", {
        "name": True, "source": False, "kinds": True, "groups": False, "period": True, "rollup": False,
        "base": False, "floor": False, "decimals": False, "ranking": False, "modules": True, "flags": False,
        "title": False, "signatures": False,
    })
    if keys is None:
        raise SchemeError(source, reader.problems)
    kinds = tuple(sorted(reader.kinds(keys.get("kinds"), "kinds") or ()))
    groups = []
    for index, node in enumerate(reader.sequence(keys["groups"], "groups") if "groups" in keys else []):
        where = f"groups[{index}]"
        entry = reader.mapping(node, where, {"id": True, "name": True})
        if entry and "id" in entry and "name" in entry:
            groups.append(Group(reader.ident(entry["id"], f"{where}.id"), reader.text(entry["name"], f"{where}.name")))
    if not groups:
        groups.append(Group("all", "全部"))
    ranking_keys = reader.mapping(keys["ranking"], "ranking", {"method": False, "tie_break": False}) \
        if "ranking" in keys else {}
    ranking_keys = ranking_keys or {}
    modules = []
    seen: dict[str, int] = {}
    for index, node in enumerate(reader.sequence(keys.get("modules"), "modules") if "modules" in keys else []):
        modules.append(_module(reader, node, f"modules[{index}]", seen))
    if "modules" in keys and not modules:
        reader.fail(keys["modules"], "modules", "至少要有一个模块")
    module_ids = {module.id for module in modules}
    tie_break = tuple(reader.text(item, f"ranking.tie_break[{i}]")
                      for i, item in enumerate(reader.sequence(ranking_keys["tie_break"], "ranking.tie_break")
                                               if "tie_break" in ranking_keys else []))
    for i, name in enumerate(tie_break):
        if name not in module_ids:
            reader.fail(ranking_keys["tie_break"], f"ranking.tie_break[{i}]", f"没有编号为 {name} 的模块")
    flags = []
    for index, node in enumerate(reader.sequence(keys["flags"], "flags") if "flags" in keys else []):
        flag = _flag(reader, node, f"flags[{index}]")
        if flag is not None:
            flags.append(flag)
    flag_ids = {flag.id for flag in flags}
    for index, flag in enumerate(flags):
        if flag.after and flag.after not in flag_ids:
            reader.fail(keys["flags"], f"flags[{index}].after", f"没有编号为 {flag.after} 的评优")
    for module in modules:
        for indicator in module.indicators:
            for blocked in indicator.rule.blocks:
                if blocked not in flag_ids:
                    reader.problems.append((indicator.line, f"{indicator.id}.rule.blocks",
                                            f"没有编号为 {blocked} 的评优"))
    decimals = reader.count(keys.get("decimals"), "decimals", 2)
    if decimals > 3:
        reader.fail(keys["decimals"], "decimals", "最多保留 3 位小数")
    scheme = Scheme(
        name=reader.text(keys.get("name"), "name"), source=reader.text(keys.get("source"), "source"),
        kinds=kinds, groups=tuple(groups),
        period=reader.choice(keys.get("period"), "period", PERIODS, "month"),
        rollup=reader.choice(keys.get("rollup"), "rollup", ("mean", "sum"), "mean"),
        base=reader.points(keys.get("base"), "base", 0) or 0, floor=reader.points(keys.get("floor"), "floor"),
        decimals=min(decimals, 3),
        ranking=reader.choice(ranking_keys.get("method"), "ranking.method", RANKINGS, "competition"),
        tie_break=tie_break, modules=tuple(modules), flags=tuple(flags),
        title=reader.text(keys.get("title"), "title"),
        signatures=tuple(reader.text(item, f"signatures[{i}]") for i, item in
                         enumerate(reader.sequence(keys["signatures"], "signatures") if "signatures" in keys else [])),
    )
    if reader.problems:
        raise SchemeError(source, sorted(reader.problems))
    return scheme


def _module(reader: _Reader, node: yaml.Node, where: str, seen: dict[str, int]) -> Module:
    keys = reader.mapping(node, where, {"id": True, "name": True, "max": False, "min": False, "start": False,
                                        "indicators": True}) or {}
    module_id = reader.ident(keys.get("id"), f"{where}.id")
    indicators = []
    for index, item in enumerate(reader.sequence(keys["indicators"], f"{where}.indicators")
                                 if "indicators" in keys else []):
        at = f"{where}.indicators[{index}]"
        entry = reader.mapping(item, at, {"id": True, "name": True, "rule": True, "start": False, "max": False,
                                          "min": False, "content": False, "office": False, "for": False,
                                          "figure": False})
        if not entry:
            continue
        indicator_id = reader.ident(entry.get("id"), f"{at}.id")
        line = item.start_mark.line + 1
        if indicator_id in seen:
            reader.fail(entry.get("id"), f"{at}.id", f"编号 {indicator_id} 与第 {seen[indicator_id]} 行的指标重复")
        seen[indicator_id] = line
        rule = _rule(reader, entry["rule"], f"{at}.rule") if "rule" in entry else Rule("observed")
        indicators.append(Indicator(
            id=indicator_id, name=reader.text(entry.get("name"), f"{at}.name"), module=module_id, rule=rule,
            start=reader.points(entry.get("start"), f"{at}.start", 0) or 0,
            max=reader.points(entry.get("max"), f"{at}.max"), min=reader.points(entry.get("min"), f"{at}.min"),
            content=reader.text(entry.get("content"), f"{at}.content"),
            office=reader.text(entry.get("office"), f"{at}.office"),
            kinds=reader.kinds(entry.get("for"), f"{at}.for"), line=line,
            figure=_figure(reader, entry.get("figure"), f"{at}.figure"),
        ))
    return Module(
        id=module_id, name=reader.text(keys.get("name"), f"{where}.name"), indicators=tuple(indicators),
        start=reader.points(keys.get("start"), f"{where}.start", 0) or 0,
        max=reader.points(keys.get("max"), f"{where}.max"), min=reader.points(keys.get("min"), f"{where}.min"),
    )


def _figure(reader: _Reader, node: yaml.Node | None, where: str) -> str:
    """An indicator's `figure`: one of FIGURES, or "" when it has none."""
    if node is None:
        return ""
    if not isinstance(node, yaml.ScalarNode):
        return reader.text(node, where)  # "应为单个值"
    return reader.choice(node, where, FIGURES, "")


def _flag(reader: _Reader, node: yaml.Node, where: str) -> Flag | None:
    keys = reader.mapping(node, where, {"id": True, "name": True, "kind": True, "n": False, "fraction": False,
                                        "count": False, "of": False, "skip_deducted": False, "after": False})
    if not keys or "kind" not in keys:
        return None
    kind = reader.choice(keys["kind"], f"{where}.kind", FLAG_KINDS, "top_n")
    for name, required in FLAG_KINDS[kind].items():
        if required and name not in keys:
            reader.fail(node, where, f"{kind} 缺少参数 {name}")
    skip = reader.text(keys.get("skip_deducted"), f"{where}.skip_deducted", "false").lower()
    if skip not in ("true", "false", "yes", "no"):
        reader.fail(keys.get("skip_deducted"), f"{where}.skip_deducted", "应为 true 或 false")
    return Flag(
        id=reader.ident(keys.get("id"), f"{where}.id"), name=reader.text(keys.get("name"), f"{where}.name"),
        kind=kind, n=reader.count(keys.get("n"), f"{where}.n"),
        fraction=reader.points(keys.get("fraction"), f"{where}.fraction", 0) or 0,
        count=reader.choice(keys.get("count"), f"{where}.count", COUNT_ROUNDING, "half_up"),
        of=reader.kinds(keys.get("of"), f"{where}.of"), skip_deducted=skip in ("true", "yes"),
        after=reader.text(keys.get("after"), f"{where}.after"),
    )
