"""Column names and codes of every DataFrame that crosses into or out of `scoring`
(one place). Inputs use short English codes; `scoring.labels` has the Chinese."""

UNIT = "unit"
SECTION = "section"
YEAR = "year"
RESULT = "result"
ROW = "row"  # optional on every event frame: the source row, quoted in explanations

# Results, as stored and as in docs/rules.md §6's JSON.
SATISFIED = "satisfied"
UNSATISFIED = "unsatisfied"
MOST_UNSATISFIED = "most_unsatisfied"

# Flags derived from history.
EXEMPT = "exempt"
PREVIOUS_UNSATISFIED = "previous_unsatisfied"

# ---- inputs ------------------------------------------------------------------------
# sections: UNIT, SECTION (one row per evaluated section of the year's list).
# history: YEAR, UNIT, SECTION, RESULT.

# votes: UNIT, SECTION, ROUND, VOTES_S, VOTES_B, VOTES_U (counts; one row per section
# and round), or one row per vote with CHOICE instead of the counts (see scoring.votes).
ROUND = "round"
H1, H2, NET = "H1", "H2", "NET"
REEVAL = "R"  # the 复评 round of the next June: scored apart (scoring/reevaluation.py), never in the year's total
VOTES_S = "votes_satisfied"
VOTES_B = "votes_basic"
VOTES_U = "votes_unsatisfied"
CHOICE = "choice"  # per-vote frames: one of CHOICE_S, CHOICE_B, CHOICE_U
CHOICE_S, CHOICE_B, CHOICE_U = "satisfied", "basic", "unsatisfied"

# platform: UNIT, SECTION, PLATFORM, ITEM, DEDUCTION, ROLE (one row per deduction).
PLATFORM = "platform"
HOTLINE = "hotline"  # 统一政务咨询投诉举报平台
SUPERVISION_NET = "supervision_net"  # 网络监督投诉平台
ITEM = "item"
CONDUCT = "conduct"  # 作风投诉 (hotline)
HANDLING = "handling"  # 办理评价 (hotline)
COMPLAINT = "complaint"  # 有效投诉 (supervision_net)
DEDUCTION = "deduction"  # points as entered (before halving and caps)
ROLE = "role"
LEAD, CO = "lead", "co"  # 主办 / 协办

# supervisor: UNIT, SECTION, SCORE.
SCORE = "score"

# inspection: UNIT, SECTION, KIND, SERIOUS, PERSON, CURRENT_YEAR, DATE.
KIND = "kind"
COUNTY, CITY_LEVEL, VERIFIED_COMPLAINT, CASE = "county", "city", "complaint", "case"
SERIOUS = "serious"  # bool; problems only
PERSON = "person"  # cases only
PRINCIPAL, DEPUTY, STAFF, COLLECTIVE = "principal", "deputy", "staff", "collective"
CURRENT_YEAR = "current_year"  # bool; cases only: conduct in the evaluation year
DATE = "date"  # datetime64; required for cases and bonus items
# Deductions the review office records for a unit (docs/rules.md §2.7): 应报未报 (a section
# found missing from the list: the setting `unreported_deduction` for every section of its
# unit, MISSING naming the section found) and 影响评议工作 (a discretionary deduction of
# DEDUCTION points). Both carry REASON; DATE is when it was found or decided (optional,
# no window). Optional columns of the inspection frame: absent, no such events.
UNREPORTED, DISCRETIONARY = "unreported", "discretionary"  # KIND values
REASON = "reason"  # text: why (both kinds)
MISSING = "missing_section"  # text: the section found missing (unreported only), of the same unit

# bonus: UNIT, SECTION, KIND, LEVEL, MATTER, DATE.
COMMENDATION, PUBLICITY = "commendation", "publicity"  # KIND values
LEVEL = "level"
NATIONAL, PROVINCIAL, CITY = "national", "provincial", "city"  # 表彰：国家级/省部级/市厅级
CENTRAL = "central"  # 宣传: 中央 / 省级 (PROVINCIAL) / 市级 (CITY)
MATTER = "matter"

# ---- outputs (Scorecard.sections) --------------------------------------------------
SERVICE_H1 = "service_h1"
SERVICE_H2 = "service_h2"
SERVICE = "service"
PLATFORM_SCORE = "platform"
SUPERVISOR = "supervisor"
INSPECTION = "inspection"
DAILY = "daily"
NETWORK = "network"
BONUS = "bonus"
TOTAL = "total"
SHORTLIST = "shortlist"
SATISFIED_CANDIDATE = "satisfied_candidate"
UNSATISFIED_CANDIDATE = "unsatisfied_candidate"
# SHORTLIST also takes PREVIOUS_UNSATISFIED.
DECISION = "decision"  # the review office's recorded decision and reason
PROPOSED = "proposed"  # the engine's proposal; RESULT is after the office's decisions
DAILY_RANK = "daily_rank"
TOTAL_RANK = "total_rank"
TOP_TIER = "top_tier"  # among the top satisfied sections: the parent unit's 优秀 tier
TWO_YEARS_UNSATISFIED = "two_years_unsatisfied"
WARNINGS = "warnings"  # list of Chinese messages about this section
VOTES_IN = {H1: "H1_votes", H2: "H2_votes", NET: "NET_votes"}  # votes counted per round
# Tie.stage values.
STAGE_SHORTLIST, STAGE_FINAL = "shortlist", "final"

# Scorecard.lines (explanations): UNIT, SECTION, COMPONENT, TEXT, POINTS, ROW.
COMPONENT = "component"
TEXT = "text"
POINTS = "points"

# Scorecard.units: UNIT, N_SATISFIED, N_UNSATISFIED, N_MOST_UNSATISFIED, EFFECT, TOP_TIER.
N_SATISFIED = "n_satisfied"
N_UNSATISFIED = "n_unsatisfied"
N_MOST_UNSATISFIED = "n_most_unsatisfied"
EFFECT = "effect"
