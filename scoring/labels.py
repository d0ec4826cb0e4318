"""Chinese labels of the codes in `scoring.columns` (docs/rules.md §6 values), both
ways.

Readers of the exchange files (docs/rules.md §6) map a cell to a code with these; reports and
explanations show the labels. The first label of each code is the one shown.
"""
from __future__ import annotations

from scoring import columns as C

# Each round's Chinese name, as explanations write it ("上半年服务对象评价"). A round is
# shown by its code (the first label in ROUNDS); a file may give its code, its name or
# an alias.
ROUND_NAMES = {C.H1: "上半年", C.H2: "下半年", C.NET: "网络评价", C.REEVAL: "复评"}
ROUNDS = {
    C.H1: (C.H1, ROUND_NAMES[C.H1]),
    C.H2: (C.H2, ROUND_NAMES[C.H2], "年底"),
    C.NET: (C.NET, ROUND_NAMES[C.NET], "网络"),
}
PLATFORMS = {
    C.HOTLINE: ("投诉举报", "统一政务咨询投诉举报平台", "政务咨询投诉举报"),
    C.SUPERVISION_NET: ("网络监督", "网络监督投诉平台"),
}
ITEMS = {C.CONDUCT: ("作风投诉",), C.HANDLING: ("办理评价",), C.COMPLAINT: ("有效投诉",)}
# Which items belong to which platform.
PLATFORM_ITEMS = {C.HOTLINE: (C.CONDUCT, C.HANDLING), C.SUPERVISION_NET: (C.COMPLAINT,)}
ROLES = {C.LEAD: ("主办",), C.CO: ("协办",)}
INSPECTION_KINDS = {
    C.COUNTY: ("县级查实",),
    C.CITY_LEVEL: ("市级查实",),
    C.VERIFIED_COMPLAINT: ("投诉查实",),
    C.CASE: ("立案查处",),
    C.UNREPORTED: ("应报未报",),
    C.DISCRETIONARY: ("影响评议工作", "影响评议", "视情扣分"),
}
# The findings of the inspections proper (a single entry's types): the office's own
# deductions (应报未报, 影响评议工作) are recorded for a unit, on their own forms.
INSPECTION_FINDINGS = {code: INSPECTION_KINDS[code] for code in (C.COUNTY, C.CITY_LEVEL, C.VERIFIED_COMPLAINT, C.CASE)}
OFFICE_DEDUCTIONS = (C.UNREPORTED, C.DISCRETIONARY)
PERSONS = {
    C.PRINCIPAL: ("主要负责人",),
    C.DEPUTY: ("副职",),
    C.STAFF: ("其他工作人员",),
    C.COLLECTIVE: ("集体",),
}
BONUS_KINDS = {C.COMMENDATION: ("表彰",), C.PUBLICITY: ("宣传",)}
# Levels by kind: 表彰 国家级/省部级/市厅级, 宣传 中央/省级/市级.
BONUS_LEVELS: dict[str, dict[str, tuple[str, ...]]] = {
    C.COMMENDATION: {C.NATIONAL: ("国家级",), C.PROVINCIAL: ("省部级",), C.CITY: ("市厅级",)},
    C.PUBLICITY: {C.CENTRAL: ("中央", "中央级"), C.PROVINCIAL: ("省级",), C.CITY: ("市级",)},
}
YES_NO = {True: ("是", "yes", "y", "true", "1"), False: ("否", "no", "n", "false", "0", "")}
RESULTS = {C.SATISFIED: ("满意单位",), C.UNSATISFIED: ("不满意单位",), C.MOST_UNSATISFIED: ("最不满意单位",)}
SHORTLISTS = {
    C.SATISFIED_CANDIDATE: ("满意候选",),
    C.UNSATISFIED_CANDIDATE: ("不满意候选",),
    C.PREVIOUS_UNSATISFIED: ("上年不满意单位",),
}
# The input frames of a year (`scoring.engine.YearInputs` fields, the bundle's files) by
# what they hold, as warnings about their rows name them.
SOURCES = {"votes": "投票", "platform": "平台办理", "supervisor": "主管单位评分", "inspection": "监督检查", "bonus": "加分项"}
COMPONENTS = {
    C.SERVICE: "服务对象评价",
    C.PLATFORM_SCORE: "平台办理",
    C.SUPERVISOR: "主管单位评价",
    C.INSPECTION: "监督检查",
    C.DAILY: "日常评价",
    C.NETWORK: "网络评价",
    C.BONUS: "加分项",
    C.TOTAL: "总成绩",
}


def label(table: dict, code: object) -> str:
    """The label shown for `code` (the code itself if it has none)."""
    names = table.get(code)
    return names[0] if names else str(code)


def lookup(table: dict) -> dict[str, object]:
    """label -> code, every label of every code (lower-cased for Latin aliases)."""
    return {name.lower(): code for code, names in table.items() for name in names}
