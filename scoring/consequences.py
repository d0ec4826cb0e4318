"""What the published results set in motion (结果运用, 《实施细则》六): from each section's
final result, every consequence the rules list, with the party that carries it out, its
time limit, and for 考绩 its points (docs/rules.md §2.16).

One row per (unit, section or the unit itself, kind), in the rules' order. The rows are
pure data: the platform computes them again from the published lists whenever they are
asked for; what the office records is when each was carried out (voting/scores).

Two measures wait on the 复评 of the next June: the freeze on promotions holds "until
the 复评 passes", and 刚性调整 applies only "if the 复评 is still 不满意". `consequences`
takes each section's 复评 outcome (True: passed, False: still 不满意, None or absent: not
held yet) and shows them accordingly.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from scoring import columns as C
from scoring.ranking import order
from scoring.settings import RuleSettings

# The kinds, in the order of the rules' text.
KAOJI = "kaoji"  # 考绩加减分 (the only number)
BONUS_UP = "bonus_up"  # 考绩奖升一档
BONUS_EXCELLENT = "bonus_excellent"  # 前三名科室人员考绩奖按优秀档次
BONUS_LOWEST = "bonus_lowest"  # 考绩奖按最低档次
LEADER_BONUS = "leader_bonus"  # 分管负责人不得按最高档次
NO_HONOURS = "no_honours"  # 取消当年度评先评优资格
PARTY_SCORE = "party_score"  # 党建考核酌情加减 (the unit itself)
CRITICISM = "criticism"  # 通报批评
RECTIFY = "rectify"  # 限期整改
TALK_HEAD = "talk_head"  # 约谈参评科室负责人
STATEMENT = "statement"  # 表态发言
TALK_LEADERS = "talk_leaders"  # 约谈主管部门主要负责人、分管（联系）负责人
REMOVAL = "removal"  # 连续两年：组织处理
REEVALUATION = "reevaluation"  # 次年6月复评
FREEZE = "freeze"  # 复评合格前不得提拔和平级调动
REASSIGN = "reassign"  # 复评仍不满意：刚性调整
PARTY_TALK = "party_talk"  # 机关工委组织约谈
PARTY_NO_HONOURS = "party_no_honours"  # 所属党组织及党员不得参评评先评优

KINDS = {
    KAOJI: "考绩加减分",
    BONUS_UP: "考绩奖升档",
    BONUS_EXCELLENT: "考绩奖优秀档",
    BONUS_LOWEST: "考绩奖最低档",
    LEADER_BONUS: "分管负责人考绩奖",
    NO_HONOURS: "取消评先评优",
    PARTY_SCORE: "党建考核",
    CRITICISM: "通报批评",
    RECTIFY: "限期整改",
    TALK_HEAD: "约谈科室负责人",
    STATEMENT: "表态发言",
    TALK_LEADERS: "约谈主管部门负责人",
    REMOVAL: "组织处理（连续两年）",
    REEVALUATION: "复评",
    FREEZE: "不得提拔和平级调动",
    REASSIGN: "刚性调整",
    PARTY_TALK: "党组织负责人约谈",
    PARTY_NO_HONOURS: "党组织及党员不得评先评优",
}

# Who carries a measure out (the rules' subject where it names one; docs/rules.md §2.16).
COUNTY = "县委、县政府"
ORGANIZATION = "组织部门（按干部管理权限）"
PARTY_WORK = "机关工委"
UNIT = "所在单位"
OFFICE = "评议办"

# A measure's state.
APPLIES = "applies"  # to carry out
PENDING = "pending"  # waits on the 复评's outcome
LIFTED = "lifted"  # no longer applies: the 复评 passed
STATUSES = {APPLIES: "执行", PENDING: "待复评结果", LIFTED: "不再执行"}

RESULT_LABELS = {C.SATISFIED: "满意单位", C.UNSATISFIED: "不满意单位", C.MOST_UNSATISFIED: "最不满意单位"}
UNSATISFIED_RESULTS = (C.UNSATISFIED, C.MOST_UNSATISFIED)


@dataclass(frozen=True)
class SectionResult:
    """A section's final result: C.SATISFIED (with `rank`, its place among the 满意单位
    by total and the tie-break chain, equal chains sharing the best place),
    C.UNSATISFIED or C.MOST_UNSATISFIED."""

    unit: str
    section: str
    result: str
    rank: int | None = None

    @property
    def label(self) -> str:
        shown = RESULT_LABELS[self.result]
        return f"{shown}第 {self.rank} 名" if self.result == C.SATISFIED and self.rank else shown


@dataclass(frozen=True)
class Consequence:
    unit: str
    section: str | None  # None: the unit itself
    kind: str
    text: str  # the measure, in the rules' words
    party: str  # who carries it out
    points: float | None = None  # 考绩 points (KAOJI only), added up per unit
    deadline: date | None = None  # a date the measure is due by (整改)
    when: str = ""  # its time limit in words ("2022年6月"), "" when the text sets none
    status: str = APPLIES
    note: str = ""  # why it applies or how it stands

    @property
    def key(self) -> str:
        """What the office's record of it is kept under (unique in a campaign)."""
        return f"{self.kind}|{self.unit}|{self.section or ''}"

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def status_label(self) -> str:
        return STATUSES[self.status]

    @property
    def time_limit(self) -> str:
        """The deadline as a notice writes it: the date, else the words, else ""."""
        if self.deadline is not None:
            return f"{self.deadline.year}年{self.deadline.month}月{self.deadline.day}日前"
        return self.when


def points_text(value: float) -> str:
    """考绩 points as written: "加5分", "减10分"."""
    number = f"{round(abs(float(value)), 4):g}"
    return f"加{number}分" if value > 0 else f"减{number}分" if value < 0 else "不加减分"


def signed(value: float) -> str:
    """"+5", "−5", "0" (a table's 考绩 column)."""
    number = f"{round(abs(float(value)), 4):g}"
    return f"+{number}" if value > 0 else f"−{number}" if value < 0 else "0"


def satisfied_ranks(sections: pd.DataFrame, settings: RuleSettings) -> dict[tuple[str, str], int]:
    """Each 满意单位's place among the 满意单位 (`sections`: UNIT, SECTION, RESULT, TOTAL
    and the tie-break chain's scores, e.g. a Scorecard's sections): ordered by total
    and the chain (docs/rules.md §2.14); sections equal on the whole chain share the
    best place (1, 2, 2, 4), so that a place within `top_bonus_tier` is exactly the
    engine's 优秀 tier with a tie at its edge included."""
    satisfied = sections[sections[C.RESULT] == C.SATISFIED].set_index([C.UNIT, C.SECTION])
    if satisfied.empty:
        return {}
    ordered = order(satisfied, C.TOTAL, True, settings.rank_decimals)
    keys = [c for c in ordered.columns if c.startswith("_k")]
    ranks: dict[tuple[str, str], int] = {}
    previous: tuple | None = None
    place = 0
    for position, (key, chain) in enumerate(zip(ordered.index, ordered[keys].itertuples(index=False)), start=1):
        chain = tuple(chain)
        if chain != previous:
            place, previous = position, chain
        ranks[(str(key[0]), str(key[1]))] = place
    return ranks


def consequences(
    results: Iterable[SectionResult],
    last_year_unsatisfied: Collection[tuple[str, str]],
    settings: RuleSettings,
    *,
    year: int,
    published: date,
    reevaluation: Mapping[tuple[str, str], bool | None] | None = None,
) -> list[Consequence]:
    """Every consequence of the final results (《实施细则》六), units in the order their
    first section comes in `results`, each unit's own rows (党建考核) after its
    sections'. `last_year_unsatisfied`: (unit, section) of last year's 不满意单位 and
    最不满意单位; `published`: the lists' publication day (整改's deadline counts from
    it); `reevaluation`: each section's 复评 outcome (True passed, False still 不满意,
    None or absent not held yet)."""
    s = settings
    outcomes = reevaluation or {}
    previous = set(last_year_unsatisfied)
    nxt = year + 1
    by_unit: dict[str, list[SectionResult]] = {}
    for r in results:
        if r.result not in RESULT_LABELS:
            raise ValueError(f"未知的评议结果：{r.result}")
        by_unit.setdefault(r.unit, []).append(r)

    rows: list[Consequence] = []
    for unit, mine in by_unit.items():
        for r in mine:
            add = _adder(rows, r)
            effect = {C.SATISFIED: s.effect_satisfied, C.UNSATISFIED: s.effect_unsatisfied,
                      C.MOST_UNSATISFIED: s.effect_most_unsatisfied}[r.result]
            instead = "（不再另减分）" if r.result == C.MOST_UNSATISFIED else ""
            add(KAOJI, f"所在机关单位（含国有企业）年度考绩{points_text(effect)}{instead}", COUNTY,
                points=float(effect), when=f"{year}年度考绩", note=r.label)
            if r.result == C.SATISFIED:
                add(BONUS_UP, "年度考绩奖按其主管部门年度考绩档次升一档次执行（主管部门考绩已是最高档次的不做升档处理）",
                    COUNTY, when=f"{year}年度考绩奖", note=r.label)
                if r.rank is not None and r.rank <= s.top_bonus_tier:
                    add(BONUS_EXCELLENT, "科室人员年度考绩奖一律按优秀档次发放（所在单位年度已是最高档次的，再给予20%的奖励）",
                        COUNTY, when=f"{year}年度考绩奖", note=f"{r.label}（前 {s.top_bonus_tier} 名）")
                continue
            # Unsatisfied and most unsatisfied: the 最不满意单位 are among the 不满意单位.
            add(BONUS_LOWEST, "年度考绩奖按最低档次执行（主管部门考绩已是最低档次的不做降档处理）", COUNTY,
                when=f"{year}年度考绩奖", note=r.label)
            if r.result == C.MOST_UNSATISFIED:
                add(LEADER_BONUS, "所在主管单位的分管负责人不得按最高档次发放年度考绩奖", COUNTY,
                    when=f"{year}年度考绩奖", note=r.label)
            add(NO_HONOURS, "取消当年度评先评优资格", COUNTY, when=f"{year}年度", note=r.label)
            add(CRITICISM, "由县委、县政府予以通报批评", COUNTY, note=r.label)
            add(RECTIFY, "列为整改单位限期整改", UNIT, deadline=published + timedelta(days=s.rectification_days),
                note=f"自评议结果公布之日起 {s.rectification_days} 日内")
            add(TALK_HEAD, "对参评科室负责人进行约谈", COUNTY, note=r.label)
            if r.result == C.MOST_UNSATISFIED:
                add(STATEMENT, "科室主要负责人在次年春节后全县干部大会作表态发言", UNIT,
                    when=f"{nxt}年春节后全县干部大会", note=r.label)
                add(TALK_LEADERS, "按照干部管理权限对主管部门的主要负责人、分管（联系）负责人分别予以约谈", ORGANIZATION,
                    note=r.label)
            if (r.unit, r.section) in previous:
                add(REMOVAL, "连续两年被评为“不满意单位”：按照干部管理权限对参评单位主要负责人予以免职、责令辞职等组织处理",
                    ORGANIZATION, note=f"{year - 1}年度、{year}年度连续两年为不满意单位")
            outcome = outcomes.get((r.unit, r.section))
            held = {None: "复评尚未进行", True: "复评结果：整改合格", False: "复评结果：仍为不满意"}[outcome]
            add(REEVALUATION, "次年6月组织“不满意单位”复评", OFFICE, when=f"{nxt}年6月", note=held)
            add(FREEZE, "复评结果整改合格前，科室正、副职不得提拔和平级调动（公务员身份的，职级不得晋升）", ORGANIZATION,
                when="至复评整改合格", status=LIFTED if outcome is True else APPLIES,
                note={None: "复评尚未进行，限制有效", True: "复评整改合格，限制解除",
                      False: "复评仍为不满意，限制继续有效"}[outcome])
            add(REASSIGN, "复评结果仍为“不满意”的，参评科室主要负责人一律予以跨部门、跨领域、跨条块刚性调整等组织处理",
                ORGANIZATION, status={None: PENDING, True: LIFTED, False: APPLIES}[outcome],
                note={None: "待复评结果：复评仍为不满意时执行", True: "复评整改合格，不执行",
                      False: "复评仍为不满意"}[outcome])
            add(PARTY_TALK, "机关工委对科室所属党组织负责人进行组织约谈", PARTY_WORK, note=r.label)
            add(PARTY_NO_HONOURS, "所属党组织及党员不得参评年度评先评优", PARTY_WORK, when=f"{year}年度", note=r.label)
        satisfied = sum(1 for r in mine if r.result == C.SATISFIED)
        unsatisfied = len(mine) - satisfied
        counted = "、".join(part for part in (f"满意单位科室 {satisfied} 个" if satisfied else "",
                                               f"不满意单位科室 {unsatisfied} 个" if unsatisfied else "") if part)
        rows.append(Consequence(unit, None, PARTY_SCORE, "所在机关单位（含国有企业）党建考核分值酌情加减", PARTY_WORK,
                                when=f"{year}年度党建考核", note=counted))
    return rows


def _adder(rows: list[Consequence], r: SectionResult) -> Callable[..., None]:
    """A function appending one of `r`'s consequences to `rows`."""

    def add(kind: str, text: str, party: str, *, points: float | None = None, deadline: date | None = None,
            when: str = "", status: str = APPLIES, note: str = "") -> None:
        rows.append(Consequence(r.unit, r.section, kind, text, party, points, deadline, when, status, note))

    return add


def unit_points(rows: Iterable[Consequence]) -> dict[str, float]:
    """Each unit's 考绩 points, its sections' added up (+5 − 5 = 0)."""
    total: dict[str, float] = {}
    for row in rows:
        if row.points is not None:
            total[row.unit] = total.get(row.unit, 0.0) + row.points
    return total
