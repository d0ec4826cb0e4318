"""The list-integrity checks (docs/rules.md §3.11): pure functions over pandas frames, no
database, no phone numbers. Frames in, flags out, each with its evidence.

The rules forbid 少报、漏报、瞒报、假报 (a list padded with staff, friends or invented
numbers) and 拉票买票 (votes gathered on purpose). What a list or its votes look like
when that happened, each a hint for the review office to check, never a verdict:

- `staff_phone`: a service object's phone is a phone of the unit's own staff (附件5
  工作人员联系表, the sections' 服务承诺表).
- `shared_phone`: one number in `shared_sections` or more sections of a round, or in
  `shared_units` or more units.
- `copied_list`: a list sharing `copied_share` of its numbers (and `copied_min` at
  least) with the same section's list of the same round last year.
- `sequential_run`: `run_length` or more consecutive numbers (…0001, …0002, …) in a list.
- `repeated_name`: one name `name_times` or more times in a list.
- `answer_burst`: `burst_votes` or more web votes of one section from one network
  within `burst_minutes` (the first and the last less than that apart).

The frames (built by voting/integrity/integrity.py):

- objects: section_id, unit_id, round ("H1"/"H2"/"R"), phone_hash, name, row (the list
  file's row), masked (sms.phones.mask_phone), block and tail: the number without the
  number, for runs. `block` is an integer derived from a keyed hash of the first seven
  digits (a carrier's block of 10,000 numbers), `tail` the last four digits as a
  number; consecutive numbers share a block and have consecutive tails. -1 for both
  when the phone is gone (retention). A section's list holds a number once (the
  database's unique constraint).
- staff: unit_id, phone_hash, role (a label).
- last_year: section_id (this year's section, matched by names), round, phone_hash.
- votes: section_id, round, network (keyed hash; web votes only), at (UTC datetime),
  choice.

Evidence is JSON: masked phones (138****0001), masked names (张*), the list's rows,
counts and times. `basis` is what the evidence is about (phone hashes, counts), kept
only as its SHA-256 (`fingerprint`): a decision stands while it is unchanged.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scoring.settings import RuleSettings

ROUNDS = ("H1", "H2", "R")  # the year's two rounds and the next June's 复评
_SPACES = re.compile(r"\s+")
SHOWN = 20  # items of one flag kept in its evidence; past this many the evidence counts them
ROWS_SHOWN = 10  # list rows named per item

OBJECT_COLUMNS = ["section_id", "unit_id", "round", "phone_hash", "name", "row", "masked", "block", "tail"]
STAFF_COLUMNS = ["unit_id", "phone_hash", "role"]
LAST_YEAR_COLUMNS = ["section_id", "round", "phone_hash"]
VOTE_COLUMNS = ["section_id", "round", "network", "at", "choice"]


@dataclass(frozen=True)
class Thresholds:
    """The campaign's `integrity_*` settings (scoring/settings.py, where their defaults and
    reasons are), as the checks name them."""

    shared_sections: int
    shared_units: int
    copied_share: float
    copied_min: int
    run_length: int
    name_times: int
    burst_votes: int
    burst_minutes: int

    @classmethod
    def of(cls, rules: RuleSettings) -> Thresholds:
        return cls(rules.integrity_shared_sections, rules.integrity_shared_units, rules.integrity_copied_share,
                   rules.integrity_copied_min, rules.integrity_run_length, rules.integrity_name_times,
                   rules.integrity_burst_votes, rules.integrity_burst_minutes)


@dataclass
class Found:
    """One flag: a kind of fault in one section's list (or votes) of one round."""

    section_id: int
    round: str
    kind: str
    evidence: dict[str, Any]
    basis: list[Any] = field(default_factory=list, repr=False)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([self.kind, self.basis], default=str).encode()).hexdigest()

    @property
    def key(self) -> tuple[int, str, str]:
        return self.section_id, self.round, self.kind


def mask_name(name: str) -> str:
    """A name as evidence shows it: the first character, and the last of a longer one
    (张*, 张*丰, 平*****司)."""
    name = str(name or "")
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _round_code(rounds: pd.Series) -> np.ndarray:
    codes = np.zeros(len(rounds), dtype=np.int64)
    for code, name in enumerate(ROUNDS[1:], start=1):
        codes[rounds.to_numpy() == name] = code
    return codes


def _list_key(frame: pd.DataFrame) -> np.ndarray:
    """section and round as one integer: section_id × 3 + the round's place in ROUNDS."""
    return frame["section_id"].to_numpy(dtype=np.int64) * len(ROUNDS) + _round_code(frame["round"])


def _split(key: int) -> tuple[int, str]:
    return key // len(ROUNDS), ROUNDS[key % len(ROUNDS)]


def _rows(values: Any) -> list[int]:
    return sorted(int(v) for v in values)[:ROWS_SHOWN]


def _listed(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(items), "items": items[:SHOWN]}


# ---- the checks ---------------------------------------------------------------------------


def staff_phones(objects: pd.DataFrame, staff: pd.DataFrame) -> list[Found]:
    """Service objects whose phone is one of their unit's staff phones."""
    if objects.empty or staff.empty:
        return []
    known = staff.dropna(subset=["phone_hash"]).drop_duplicates(["unit_id", "phone_hash"])
    hits = objects[objects["phone_hash"].notna()].merge(known, on=["unit_id", "phone_hash"])
    out = []
    for (section_id, round_), group in hits.sort_values("row").groupby(["section_id", "round"], sort=True):
        items = [{"phone": m, "row": int(r), "role": str(role)}
                 for m, r, role in zip(group["masked"], group["row"], group["role"], strict=True)]
        out.append(Found(int(section_id), str(round_), "staff_phone", _listed(items),
                         sorted(group["phone_hash"].tolist())))
    return out


def shared_phones(objects: pd.DataFrame, limits: Thresholds) -> list[Found]:
    """Numbers in `shared_sections` or more sections of a round, or `shared_units` or
    more units: each section holding one gets a flag naming them."""
    listed = objects[objects["phone_hash"].notna()]
    if listed.empty:
        return []
    phone = pd.factorize(listed["phone_hash"])[0].astype(np.int64)
    number = phone * len(ROUNDS) + _round_code(listed["round"])  # a number in a round
    sections = np.bincount(number)[number]  # a list holds a number once
    unit = pd.factorize(listed["unit_id"])[0].astype(np.int64)
    pairs = np.unique(number * (unit.max() + 1) + unit) // (unit.max() + 1)
    units = np.bincount(pairs, minlength=number.max() + 1)[number]
    hot = (sections >= limits.shared_sections) | (units >= limits.shared_units)
    if not hot.any():
        return []
    found = listed[hot].assign(sections=sections[hot], units=units[hot]).sort_values(["section_id", "round", "row"])
    by_list: dict[tuple[int, str], tuple[list[dict[str, Any]], list[list[Any]]]] = {}
    for section_id, round_, masked, row, phone_hash, n, u in zip(
            found["section_id"], found["round"], found["masked"], found["row"], found["phone_hash"], found["sections"],
            found["units"], strict=True):
        items, basis = by_list.setdefault((int(section_id), str(round_)), ([], []))
        items.append({"phone": masked, "row": int(row), "sections": int(n), "units": int(u)})
        basis.append([phone_hash, int(n), int(u)])
    return [Found(section_id, round_, "shared_phone", _listed(items), sorted(basis))
            for (section_id, round_), (items, basis) in by_list.items()]


def copied_lists(objects: pd.DataFrame, last_year: pd.DataFrame, limits: Thresholds) -> list[Found]:
    """Lists that share `copied_share` of their numbers (and `copied_min` at least) with
    the same section's list of the same round last year."""
    now = objects[objects["phone_hash"].notna()]
    before = last_year[last_year["phone_hash"].notna()]
    if now.empty or before.empty:
        return []
    codes, _ = pd.factorize(pd.concat([now["phone_hash"], before["phone_hash"]], ignore_index=True))
    codes = codes.astype(np.int64)
    phones = int(codes.max()) + 1
    now_list, before_list = _list_key(now), _list_key(before)
    now_key = now_list * phones + codes[: len(now)]
    before_key = before_list * phones + codes[len(now):]
    shared_rows = np.isin(now_key, before_key)
    size = max(int(now_list.max()), int(before_list.max())) + 1
    listed = np.bincount(now_list, minlength=size)
    earlier = np.bincount(before_list, minlength=size)
    shared = np.bincount(now_list[shared_rows], minlength=size)
    hot = np.flatnonzero((shared >= limits.copied_min) & (shared >= limits.copied_share * np.maximum(listed, 1))
                         & (listed > 0))
    out = []
    for key in hot:
        section_id, round_ = _split(int(key))
        n, m, s = int(listed[key]), int(earlier[key]), int(shared[key])
        evidence = {"listed": n, "last_year": m, "shared": s, "percent": round(100 * s / n, 1)}
        out.append(Found(section_id, round_, "copied_list", evidence, [n, m, s]))
    return out


def sequential_runs(objects: pd.DataFrame, limits: Thresholds) -> list[Found]:
    """`run_length` or more consecutive numbers in one list."""
    listed = objects[objects["block"].to_numpy() >= 0]
    if len(listed) < limits.run_length:
        return []
    lists = _list_key(listed)
    block = listed["block"].to_numpy(dtype=np.int64)
    tail = listed["tail"].to_numpy(dtype=np.int64)
    order = np.lexsort((tail, block, lists))
    lists, block, tail = lists[order], block[order], tail[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (lists[1:] != lists[:-1]) | (block[1:] != block[:-1]) | (tail[1:] != tail[:-1] + 1)
    run = np.cumsum(starts) - 1
    lengths = np.bincount(run)
    long_runs = np.flatnonzero(lengths >= limits.run_length)
    if not len(long_runs):
        return []
    first = np.flatnonzero(starts)
    masked, rows, hashes = listed["masked"].to_numpy(), listed["row"].to_numpy(), listed["phone_hash"].to_numpy()
    by_list: dict[int, list[tuple[dict[str, Any], list[str]]]] = {}
    for r in long_runs:
        where = order[first[r]: first[r] + lengths[r]]
        item = {"from": str(masked[where[0]]), "to": str(masked[where[-1]]), "length": int(lengths[r]),
                "rows": _rows(rows[where])}
        by_list.setdefault(int(lists[first[r]]), []).append((item, [str(h) for h in hashes[where]]))
    out = []
    for key, runs in sorted(by_list.items()):
        section_id, round_ = _split(key)
        items = [item for item, _ in runs]
        evidence = {"count": len(items), "numbers": sum(i["length"] for i in items), "items": items[:SHOWN]}
        out.append(Found(section_id, round_, "sequential_run", evidence, sorted(h for _, hs in runs for h in hs)))
    return out


def repeated_names(objects: pd.DataFrame, limits: Thresholds) -> list[Found]:
    """One name `name_times` or more times in one list (names compared without spaces)."""
    codes, uniques = pd.factorize(objects["name"].fillna("").astype(str))  # names repeat: fold each once
    folded_codes, folded = pd.factorize(pd.Series([_SPACES.sub("", str(u)) for u in uniques], dtype=object))
    name_code = folded_codes[codes].astype(np.int64)
    keep = np.asarray(folded, dtype=object)[name_code] != ""
    if keep.sum() < limits.name_times:
        return []
    listed = objects[keep]
    name_code = name_code[keep]
    names = pd.Series(np.asarray(folded, dtype=object)[name_code], index=listed.index)
    key = _list_key(listed) * (int(name_code.max()) + 1) + name_code
    uniques, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    times = counts[inverse]
    hot = times >= limits.name_times
    if not hot.any():
        return []
    found = listed[hot].assign(times=times[hot], folded=names[hot].to_numpy())
    out = []
    for (section_id, round_), group in found.groupby(["section_id", "round"], sort=True):
        items: list[dict[str, Any]] = []
        basis: list[list[Any]] = []
        for name, same in group.groupby("folded", sort=True):
            items.append({"name": mask_name(str(name)), "times": len(same), "rows": _rows(same["row"])})
            basis.append([str(name), len(same)])
        items.sort(key=lambda i: (-i["times"], i["rows"]))
        out.append(Found(int(section_id), str(round_), "repeated_name", _listed(items), basis))
    return out


def _network_label(network: str) -> str:
    return f"网络 {network[:6]}"


def answer_bursts(votes: pd.DataFrame, limits: Thresholds) -> list[Found]:
    """`burst_votes` or more web votes of one section from one network with the first
    and the last less than `burst_minutes` apart; overlapping windows are one burst."""
    web = votes[votes["network"].notna()]
    if len(web) < limits.burst_votes:
        return []
    network_code, networks = pd.factorize(web["network"])
    group = _list_key(web) * (len(networks) + 1) + network_code.astype(np.int64)
    at = pd.to_datetime(web["at"], utc=True)
    seconds = (at - at.min()).dt.total_seconds().to_numpy()
    window = limits.burst_minutes * 60
    span = float(seconds.max()) + window + 1
    order = np.lexsort((seconds, group))
    dense = pd.factorize(group[order])[0].astype(np.float64)  # fewer groups than votes: exact in a float
    keys = dense * span + seconds[order]  # group by group, in time
    ends = np.searchsorted(keys, keys + window, side="left")
    counts = ends - np.arange(len(keys))
    hot = np.flatnonzero(counts >= limits.burst_votes)
    if not len(hot):
        return []
    times = at.to_numpy()[order]
    choices = web["choice"].to_numpy()[order]
    groups = group[order]
    bursts: dict[int, list[tuple[dict[str, Any], list[Any]]]] = {}
    start, end = int(hot[0]), int(ends[hot[0]])
    spans = []
    for i in hot[1:]:
        if i < end and groups[i] == groups[start]:
            end = max(end, int(ends[i]))
        else:
            spans.append((start, end))
            start, end = int(i), int(ends[i])
    spans.append((start, end))
    for start, end in spans:
        list_key = int(groups[start]) // (len(networks) + 1)
        network = str(networks[int(groups[start]) % (len(networks) + 1)])
        first, last = pd.Timestamp(times[start]), pd.Timestamp(times[end - 1])
        tally = pd.Series(choices[start:end]).value_counts()
        item = {"network": _network_label(network), "votes": end - start, "from": first.isoformat(),
                "to": last.isoformat(), "minutes": round((last - first).total_seconds() / 60, 1),
                "choices": {str(k): int(v) for k, v in sorted(tally.items())}}
        bursts.setdefault(list_key, []).append((item, [network, end - start, first.isoformat(), last.isoformat()]))
    out = []
    for key, found in sorted(bursts.items()):
        section_id, round_ = _split(key)
        items = [item for item, _ in found]
        evidence = {"count": len(items), "votes": sum(i["votes"] for i in items), "items": items[:SHOWN]}
        out.append(Found(section_id, round_, "answer_burst", evidence, [b for _, b in found]))
    return out


def find_all(objects: pd.DataFrame, staff: pd.DataFrame, last_year: pd.DataFrame, votes: pd.DataFrame,
             limits: Thresholds) -> list[Found]:
    """Every flag of a campaign, in the order: section, round, kind."""
    found = (staff_phones(objects, staff) + shared_phones(objects, limits) + copied_lists(objects, last_year, limits)
             + sequential_runs(objects, limits) + repeated_names(objects, limits) + answer_bursts(votes, limits))
    return sorted(found, key=lambda f: f.key)
