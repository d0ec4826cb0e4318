"""The list-integrity checks (voting/integrity/checks.py) on frames worked by hand: each
fault found with its evidence, the thresholds' edges, nothing else flagged."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from scoring.settings import RuleSettings
from voting.integrity import checks
from voting.integrity.checks import Thresholds

LIMITS = Thresholds.of(RuleSettings())  # the defaults
T0 = datetime(2021, 6, 1, 9, 0, tzinfo=timezone.utc)


def obj(section_id: int, unit_id: int, phone: str, name: str = "", row: int = 2, round_: str = "H1") -> dict:
    """A service object as the service builds it: the phone's hash (here the phone
    itself, in letters), masked, its block and tail."""
    return {"section_id": section_id, "unit_id": unit_id, "round": round_, "phone_hash": f"h{phone}",
            "name": name or f"人{phone[-4:]}", "row": row, "masked": f"{phone[:3]}****{phone[-4:]}",
            "block": int(phone[:7]), "tail": int(phone[7:])}


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=checks.OBJECT_COLUMNS)


def scattered(section_id: int, unit_id: int, n: int, first: int = 0, round_: str = "H1") -> list[dict]:
    """n numbers never consecutive (tails 10 apart), distinct names."""
    return [obj(section_id, unit_id, f"1390000{first + 10 * i:04d}", row=i + 2, round_=round_) for i in range(n)]


def votes(section_id: int, networks: list[str], minutes: list[float], round_: str = "H1") -> pd.DataFrame:
    return pd.DataFrame([{"section_id": section_id, "round": round_, "network": net, "at": T0 + timedelta(minutes=m),
                          "choice": "satisfied"} for net, m in zip(networks, minutes, strict=True)],
                        columns=checks.VOTE_COLUMNS)


def no_staff() -> pd.DataFrame:
    return pd.DataFrame(columns=checks.STAFF_COLUMNS)


def no_votes() -> pd.DataFrame:
    return pd.DataFrame(columns=checks.VOTE_COLUMNS)


def no_history() -> pd.DataFrame:
    return pd.DataFrame(columns=checks.LAST_YEAR_COLUMNS)


def test_the_thresholds_are_the_campaigns_settings():
    rules = RuleSettings(integrity_run_length=7, integrity_burst_minutes=3)
    limits = Thresholds.of(rules)
    assert (limits.run_length, limits.burst_minutes, limits.shared_sections, limits.copied_share) == (7, 3, 3, 0.8)


def test_a_staff_phone_in_a_list_is_found_in_its_own_unit_only():
    objects = frame([*scattered(1, 10, 3), obj(1, 10, "13812345678", row=9), obj(2, 20, "13712345678", row=4)])
    staff = pd.DataFrame([(10, "h13812345678", "联络员"), (10, "h13812345678", "工作人员"),  # one person, two roles
                          (10, "h13700000000", "工作人员"), (30, "h13712345678", "工作人员")],  # another unit's
                         columns=checks.STAFF_COLUMNS)
    found = checks.staff_phones(objects, staff)
    assert [(f.section_id, f.round, f.kind) for f in found] == [(1, "H1", "staff_phone")]
    assert found[0].evidence == {"count": 1, "items": [{"phone": "138****5678", "row": 9, "role": "联络员"}]}


def test_a_number_in_four_sections_of_three_units_flags_each_section():
    shared = "13655550000"
    objects = frame([obj(1, 10, shared, row=3), obj(2, 10, shared, row=4), obj(3, 20, shared, row=5),
                     obj(4, 30, shared, row=6),
                     # two sections of one unit: under both limits (3 sections, 2 units)
                     obj(5, 40, "13655551111"), obj(6, 40, "13655551111"),
                     # the same number in H1 and H2 of one section: one list each
                     obj(7, 50, "13655552222"), obj(7, 50, "13655552222", round_="H2")])
    found = checks.shared_phones(objects, LIMITS)
    assert [(f.section_id, f.round) for f in found] == [(1, "H1"), (2, "H1"), (3, "H1"), (4, "H1")]
    assert found[2].evidence == {"count": 1, "items": [{"phone": "136****0000", "row": 5, "sections": 4, "units": 3}]}


def test_two_units_are_enough_and_three_sections_of_one_unit_too():
    objects = frame([obj(1, 10, "13655550000"), obj(2, 20, "13655550000"),
                     obj(5, 40, "13655551111"), obj(6, 40, "13655551111"), obj(7, 40, "13655551111")])
    found = checks.shared_phones(objects, LIMITS)
    assert {(f.section_id, f.evidence["items"][0]["sections"], f.evidence["items"][0]["units"]) for f in found} == {
        (1, 2, 2), (2, 2, 2), (5, 3, 1), (6, 3, 1), (7, 3, 1)}


def test_a_list_copied_from_last_year():
    this_year = scattered(1, 10, 25) + scattered(2, 10, 25, first=1)
    # section 1: 21 of its 25 numbers were in last year's list of 30 (84 %: flagged);
    # section 2: 19 of 25 (76 %, and under 20): not; section 1's H2 list is not compared with H1.
    last_year = pd.DataFrame([(1, "H1", f"h1390000{10 * i:04d}") for i in range(21)]
                             + [(1, "H1", f"h1350000{i:04d}") for i in range(9)]
                             + [(2, "H1", f"h1390000{1 + 10 * i:04d}") for i in range(19)]
                             + [(1, "H2", f"h1390000{10 * i:04d}") for i in range(25)],
                             columns=checks.LAST_YEAR_COLUMNS)
    found = checks.copied_lists(frame(this_year), last_year, LIMITS)
    assert [(f.section_id, f.round, f.evidence) for f in found] == [
        (1, "H1", {"listed": 25, "last_year": 30, "shared": 21, "percent": 84.0})]


def test_a_small_list_wholly_repeated_is_under_the_minimum():
    this_year = scattered(1, 10, 19)
    last_year = pd.DataFrame([(1, "H1", f"h1390000{10 * i:04d}") for i in range(19)], columns=checks.LAST_YEAR_COLUMNS)
    assert checks.copied_lists(frame(this_year), last_year, LIMITS) == []


def test_a_run_of_six_sequential_numbers():
    run = [obj(1, 10, f"1581234{5 + i:04d}", row=20 - i) for i in range(6)]  # …0005 to …0010, listed backwards
    four = [obj(1, 10, f"1581234{100 + i:04d}") for i in range(4)]  # four: under the five
    other_block = [obj(1, 10, f"1581235{i:04d}") for i in range(3)] + [obj(1, 10, f"1581234{9998 + i:04d}") for i in range(2)]
    other_list = [obj(2, 10, f"1581234{11 + i:04d}") for i in range(3)]  # continues the run, in another section
    found = checks.sequential_runs(frame(run + four + other_block + other_list), LIMITS)
    assert len(found) == 1
    assert (found[0].section_id, found[0].round) == (1, "H1")
    assert found[0].evidence == {"count": 1, "numbers": 6, "items": [
        {"from": "158****0005", "to": "158****0010", "length": 6, "rows": [15, 16, 17, 18, 19, 20]}]}


def test_one_name_seven_times():
    names = ["张三"] * 7 + ["李四"] * 4 + ["王 五"] * 3 + ["王五"] * 2  # spaces folded: 王五 five times
    rows = [obj(1, 10, f"1390000{10 * i:04d}", name=name, row=i + 2) for i, name in enumerate(names)]
    found = checks.repeated_names(frame(rows), LIMITS)
    assert len(found) == 1
    assert found[0].evidence == {"count": 2, "items": [
        {"name": "张*", "times": 7, "rows": [2, 3, 4, 5, 6, 7, 8]},
        {"name": "王*", "times": 5, "rows": [13, 14, 15, 16, 17]}]}


def test_names_are_masked():
    assert [checks.mask_name(n) for n in ("", "张", "张三", "张三丰", "平阳县某公司")] == ["", "张", "张*", "张*丰", "平****司"]


def test_twelve_votes_from_one_network_in_five_minutes_are_a_burst():
    burst = votes(1, ["net-a"] * 12, [i * 5 / 11 for i in range(12)])  # 09:00 to 09:05
    hours = votes(1, ["net-b"] * 12, [i * 30 for i in range(12)])  # every half hour
    many = votes(1, [f"net-{i}" for i in range(12)], [i / 12 for i in range(12)])  # twelve networks, one minute
    other = votes(2, ["net-a"] * 9, [1 + i / 10 for i in range(9)])  # nine: under the ten
    found = checks.answer_bursts(pd.concat([hours, burst, many, other], ignore_index=True), LIMITS)
    assert len(found) == 1
    assert (found[0].section_id, found[0].round) == (1, "H1")
    assert found[0].evidence == {"count": 1, "votes": 12, "items": [
        {"network": "网络 net-a", "votes": 12, "from": "2021-06-01T09:00:00+00:00", "to": "2021-06-01T09:05:00+00:00",
         "minutes": 5.0, "choices": {"satisfied": 12}}]}


def test_a_burst_is_under_ten_minutes_first_to_last():
    # ten votes 09:00 … 09:10 (first to last exactly ten minutes): not a burst; one more
    # at 09:09:30 makes ten within 09:00–09:09:30.
    edge = votes(1, ["net"] * 10, [i * 10 / 9 for i in range(10)])
    assert checks.answer_bursts(edge, LIMITS) == []
    more = pd.concat([edge, votes(1, ["net"], [9.5])], ignore_index=True)
    found = checks.answer_bursts(more, LIMITS)
    assert [f.evidence["items"][0]["votes"] for f in found] == [11]  # the window and its overlaps: one burst


def test_two_bursts_of_one_network_hours_apart_are_two_items():
    two = votes(1, ["net"] * 20, [i / 2 for i in range(10)] + [120 + i / 2 for i in range(10)])
    (found,) = checks.answer_bursts(two, LIMITS)
    assert (found.evidence["count"], found.evidence["votes"]) == (2, 20)


def test_a_clean_campaign_has_no_flags_and_everything_together_is_ordered():
    clean = frame(scattered(1, 10, 30) + scattered(2, 20, 30, first=3))
    assert checks.find_all(clean, no_staff(), no_history(), no_votes(), LIMITS) == []
    faulty = frame(scattered(1, 10, 3) + [obj(2, 20, f"1581234{i:04d}", name="张三") for i in range(5)])
    found = checks.find_all(faulty, no_staff(), no_history(), no_votes(), LIMITS)
    assert [(f.section_id, f.kind) for f in found] == [(2, "repeated_name"), (2, "sequential_run")]


def test_the_fingerprint_follows_what_the_evidence_is_about():
    first = checks.sequential_runs(frame([obj(1, 10, f"1581234{i:04d}") for i in range(5)]), LIMITS)[0]
    again = checks.sequential_runs(frame([obj(1, 10, f"1581234{i:04d}", row=9) for i in range(5)]), LIMITS)[0]
    longer = checks.sequential_runs(frame([obj(1, 10, f"1581234{i:04d}") for i in range(6)]), LIMITS)[0]
    assert first.fingerprint == again.fingerprint != longer.fingerprint


def test_a_threshold_below_one_is_refused():
    with pytest.raises(ValueError, match="integrity_run_length 至少为 1"):
        RuleSettings(integrity_run_length=0)
    with pytest.raises(ValueError, match="integrity_copied_share 应在 0 到 1 之间"):
        RuleSettings(integrity_copied_share=1.5)
