"""Every number of docs/rules.md §2, as one campaign's rule settings (Pingyang 2021
defaults).

A campaign stores these as a JSON object; `RuleSettings.from_dict` fills any key the
stored object lacks with the default, so a campaign created before a new setting was
added keeps working.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class RuleSettings:
    # Service objects (服务对象评价), docs/rules.md §2: two rounds, 25 points each.
    service_round_points: float = 25.0
    weight_satisfied: float = 1.0
    weight_basic: float = 0.6
    # Sub-30 blending: mean × 70 % + own × 30 % below 30 votes.
    blend_min_votes: int = 30
    blend_mean_share: float = 0.7
    blend_own_share: float = 0.3
    # Complaint platforms (平台办理): two parts of 5.
    platform_part_points: float = 5.0
    platform_base: float = 100.0
    conduct_cap: float = 10.0
    conduct_deduction_min: float = 3.0
    conduct_deduction_max: float = 5.0
    handling_cap: float = 90.0
    handling_late: float = 1.0
    handling_contact_not_updated: float = 1.0
    handling_buck_passing: float = 2.0
    handling_poor_min: float = 3.0
    handling_poor_max: float = 5.0
    handling_urgent_not_handled: float = 5.0
    cohandling_share: float = 0.5
    network_supervision_points: float = 5.0
    network_supervision_per_complaint: float = 1.0
    # Supervisor (主管单位评价): 5 points, three tiers, one decimal.
    supervisor_points: float = 5.0
    supervisor_excellent_min: float = 4.0
    supervisor_good_min: float = 3.0
    supervisor_good_max: float = 3.9
    # Supervision inspection (监督检查): 20 points of deductions.
    inspection_points: float = 20.0
    inspection_county: float = 1.0
    inspection_city: float = 2.0
    inspection_complaint: float = 1.0
    inspection_serious_factor: float = 2.0
    case_principal: float = 20.0
    case_deputy: float = 10.0
    case_staff: float = 5.0
    case_collective: float = 20.0
    case_earlier_principal: float = 6.0
    case_earlier_deputy: float = 4.0
    case_earlier_staff: float = 2.0
    case_earlier_collective: float = 10.0
    # 应报未报 (《实施细则》二): a section found missing from the list costs every section of
    # its unit this many inspection points (docs/rules.md §2.7); the office's discretionary
    # deduction (影响评议工作, 七（二）) has no setting: its points are recorded with it.
    unreported_deduction: float = 1.0
    # Windows: 1 Dec of the previous year to 30 Nov of the campaign year.
    window_start_month: int = 12
    window_start_day: int = 1
    window_end_month: int = 11
    window_end_day: int = 30
    # Online evaluation (网络评价).
    network_points: float = 15.0
    ballot_satisfied: int = 10
    ballot_unsatisfied: int = 10
    evaluator_service_object_share: float = 0.65
    # Bonus (加分项), outside the 100.
    bonus_national: float = 5.0
    bonus_provincial: float = 3.0
    bonus_city: float = 1.0
    publicity_central: float = 3.0
    publicity_provincial: float = 2.0
    publicity_city: float = 0.5
    bonus_cap: float = 5.0
    # Shortlist and final lists.
    shortlist_satisfied: int = 50
    shortlist_unsatisfied: int = 50
    final_satisfied: int = 10
    final_unsatisfied: int = 10
    final_most_unsatisfied: int = 3
    rank_decimals: int = 6
    # Parent-unit effect (考绩).
    effect_satisfied: float = 5.0
    effect_unsatisfied: float = -5.0
    effect_most_unsatisfied: float = -10.0
    top_bonus_tier: int = 3
    # 结果运用 (scoring/consequences.py): a 不满意单位's 限期整改 is due this many days after the
    # lists are published. The text says only "限期整改"; the county sets the time, 90 days by default.
    rectification_days: int = 90
    # 复评 (scoring/reevaluation.py): a 不满意单位 passes its re-evaluation when its rate × 100
    # reaches this; None (the default): the year's mean unblended service-object rate × 100.
    reeval_pass_rate: float | None = None
    # Exemption: 满意单位 in each of this many previous years.
    exemption_years: int = 2
    # Service-object lists (docs/rules.md §3).
    max_objects_per_section: int = 500
    min_penalized_objects: int = 100
    # SMS to citizens (docs/rules.md §4): local send window ("HH:MM"; equal ends: any
    # time) and messages per phone per local day (0: no cap). Outside them messages wait.
    sms_window_start: str = "08:00"
    sms_window_end: str = "21:00"
    sms_daily_cap: int = 5
    # List integrity (docs/rules.md §3, 严禁少报、漏报、瞒报、假报 and 拉票买票): when a hint is
    # shown to the review office (voting/integrity/checks.py). Hints only: no score changes.
    # A number in this many sections of one round, or in this many units, is shared
    # (a citizen served by two offices in a year happens; by three sections is rare).
    integrity_shared_sections: int = 3
    integrity_shared_units: int = 2
    # A list sharing at least this share of its numbers with the same section's list of
    # the same round last year, and at least this many numbers, repeats last year's.
    integrity_copied_share: float = 0.8
    integrity_copied_min: int = 20
    # This many consecutive numbers (…0001, …0002, …) in one list are a run.
    integrity_run_length: int = 5
    # One name this many times in one list.
    integrity_name_times: int = 5
    # This many web votes of one section from one network (IPv4 /24, IPv6 /48) whose
    # first and last are less than this many minutes apart are a burst.
    integrity_burst_votes: int = 10
    integrity_burst_minutes: int = 10

    def __post_init__(self) -> None:
        for name in ("sms_window_start", "sms_window_end"):
            value = getattr(self, name)
            hours, _, minutes = value.partition(":")
            if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60 and len(minutes) == 2):
                raise ValueError(f"规则设置 {name} 应为 HH:MM 形式的时间，而不是 {value!r}")
        if self.sms_daily_cap < 0:
            raise ValueError("规则设置 sms_daily_cap 不能为负数")
        for name in ("integrity_shared_sections", "integrity_shared_units", "integrity_copied_min", "integrity_run_length",
                     "integrity_name_times", "integrity_burst_votes", "integrity_burst_minutes"):
            if getattr(self, name) < 1:
                raise ValueError(f"规则设置 {name} 至少为 1")
        if not 0 < self.integrity_copied_share <= 1:
            raise ValueError("规则设置 integrity_copied_share 应在 0 到 1 之间（如 0.8 表示 80%）")
        if self.unreported_deduction < 0:
            raise ValueError("规则设置 unreported_deduction 不能为负数")
        if self.reeval_pass_rate is not None and not 0 < self.reeval_pass_rate <= 100:
            raise ValueError("规则设置 reeval_pass_rate 应在 0 到 100 之间（如 85 表示满意率 85%），留空则取当年平均")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "RuleSettings":
        """Settings from a stored object; unknown keys are refused, missing keys default."""
        data = data or {}
        kinds = _kinds()
        unknown = sorted(set(data) - set(kinds))
        if unknown:
            raise ValueError(f"未知的规则设置：{', '.join(unknown)}")
        return cls(**{name: kinds[name](value) for name, value in data.items()})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.cache
def _kinds() -> dict[str, Callable[[Any], Any]]:
    """Each setting's reader by name, from its type (the annotations are strings: `from __future__`)."""
    readers: dict[str, Callable[[Any], Any]] = {"int": int, "str": str, "float | None": _optional_float}
    return {f.name: readers.get(str(f.type), float) for f in fields(RuleSettings)}


def _optional_float(value: Any) -> float | None:
    """A setting that may be left empty (None, "" or "none": its default rule applies)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return float(value)


PINGYANG_2021 = RuleSettings()
