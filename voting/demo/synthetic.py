"""A synthetic but plausible evaluation year over a real list of sections.

Used by the scoring benchmark, the tests and `pingyi bundle example`. Pure (no
database, no app): frames in `scoring.columns` codes out, and `write_bundle` writes
them as a folder of exchange files (docs/rules.md §6) that `voting.components.bundle.read_bundle` reads back.

Every section has a latent quality (a standard-normal number fixed by the seed and
its names, `section_quality`): better sections get more 满意 votes, fewer complaints
and problems, more bonus items, better supervisor tiers and more 满意 ballots in the
online round. Each component draws from its own random stream, so e.g. changing the
number of events does not change the votes.
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from scoring import columns as C
from scoring import labels as L
from scoring.engine import YearInputs, score_year
from scoring.history import history_flags
from scoring.settings import PINGYANG_2021, RuleSettings
from scoring.supervisor import tier_problems
from scoring.votes import COUNTS, tally
from voting.core.resources import DATA_DIR

BALLOT = "ballot"  # per-vote network frames: the ballot's number (1…ballots)
ROUND_ORDER = (C.H1, C.H2, C.NET)

VOTE_COLUMNS = [C.UNIT, C.SECTION, C.ROUND, *COUNTS]

# The headers (docs/rules.md §6) of each bundle file, in order.
HEADERS = {
    "sections": ["单位序号", "单位名称", "科室序号", "科室"],
    "history": ["年度", "单位名称", "科室", "结果"],
    "votes": ["单位名称", "科室", "轮次", "满意", "基本满意", "不满意"],
    "platform": ["单位名称", "科室", "平台", "项目", "扣分", "承办"],
    "supervisor": ["单位名称", "科室", "分值"],
    "inspection": ["单位名称", "科室", "类型", "严重", "人员", "本年度", "日期"],
    "bonus": ["单位名称", "科室", "类型", "级别", "事项", "日期"],
}

# Shares of the `events` rows: complaint platforms, inspection, bonus.
EVENT_SHARES = (0.6, 0.25, 0.15)
# Sub-30 blending cases: section-rounds with a handful of votes, and with none.
SMALL_ROUNDS = 6
EMPTY_ROUNDS = 2


def pingyang_sections() -> pd.DataFrame:
    """The real 2021 list (Annex 1, 44 units, 363 sections) as UNIT, SECTION."""
    frame = pd.read_csv(DATA_DIR / "pingyang-2021-sections.csv", dtype=str)
    return pd.DataFrame({C.UNIT: frame["单位名称"].str.strip(), C.SECTION: frame["科室"].str.strip()})


# ---- history ---------------------------------------------------------------------------


def history_rows(keys: Sequence[tuple[str, str]], rng: random.Random, year: int) -> list[tuple[int, str, str, str]]:
    """Results of the two years before `year`, as (year, unit, section, result code):
    8 sections satisfied both years (exempt), 12 more satisfied last year, 10
    unsatisfied last year (the first 3 of them most unsatisfied), 10 unsatisfied the
    year before. Draws one `rng.sample` of 40 (fewer on a short list)."""
    picks = rng.sample(list(keys), min(40, len(keys)))
    last, before = year - 1, year - 2
    rows: list[tuple[int, str, str, str]] = []
    for unit, section in picks[:8]:  # satisfied both years: exempt
        rows += [(before, unit, section, C.SATISFIED), (last, unit, section, C.SATISFIED)]
    for unit, section in picks[8:20]:
        rows.append((last, unit, section, C.SATISFIED))
    for i, (unit, section) in enumerate(picks[20:30]):
        rows.append((last, unit, section, C.MOST_UNSATISFIED if i < 3 else C.UNSATISFIED))
    for unit, section in picks[30:40]:
        rows.append((before, unit, section, C.UNSATISFIED))
    return rows


# ---- section quality -------------------------------------------------------------------


def section_quality(sections: pd.DataFrame, seed: int) -> np.ndarray:
    """A standard-normal quality per section, fixed by the seed and the section's
    names alone (so `synthetic_network` finds the same quality for a shortlisted
    section as `synthetic_year` used for its votes, given the same seed)."""
    out = np.empty(len(sections))
    for i, (unit, section) in enumerate(zip(sections[C.UNIT], sections[C.SECTION])):
        digest = hashlib.blake2b(f"{seed}\x1f{unit}\x1f{section}".encode(), digest_size=16).digest()
        a, b = np.frombuffer(digest, dtype="<u8")
        u1, u2 = (int(a) + 0.5) / 2.0**64, (int(b) + 0.5) / 2.0**64
        out[i] = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)  # Box–Muller
    return out


def _choice_probabilities(quality: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(满意), P(基本满意), P(不满意) for a quality: most citizens are satisfied, the
    weakest sections' satisfaction rate (S + 0.6 B) falls to about 0.8."""
    q = 1.0 / (1.0 + np.exp(-(1.2 + 0.9 * quality)))
    p_s = 0.55 + 0.43 * q
    p_u = 0.002 + 0.15 * (1.0 - q) ** 2
    return p_s, 1.0 - p_s - p_u, p_u


# ---- votes -----------------------------------------------------------------------------


def _water_fill(weights: np.ndarray, total: float, cap: float) -> np.ndarray:
    """`total` shared in proportion to `weights`, no share above `cap` (the excess
    goes to the others, again in proportion)."""
    share = np.zeros_like(weights, dtype=float)
    free = weights > 0
    left = float(total)
    while free.any() and left > 1e-9:
        trial = left * weights[free] / weights[free].sum()
        over = trial > cap - share[free]
        if not over.any():
            share[free] += trial
            break
        idx = np.flatnonzero(free)[over]
        left -= float((cap - share[idx]).sum())
        share[idx] = cap
        free[idx] = False
    return share


def _service_votes(
    keys: pd.DataFrame, quality: np.ndarray, votes: int, rng: np.random.Generator, cap: int = 500
) -> pd.DataFrame:
    """H1 and H2 counts of the participating sections `keys`: `votes` in all, a few
    section-rounds under 30 votes and one or two with none (no row)."""
    n_sections = len(keys)
    cells = 2 * n_sections  # section i: cell 2i (H1), 2i + 1 (H2)
    if cells == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c in (C.UNIT, C.SECTION, C.ROUND) else "int64") for c in VOTE_COLUMNS})
    n = np.zeros(cells, dtype=np.int64)
    # The blending cases, each on a different section.
    n_small = min(SMALL_ROUNDS, n_sections // 4, votes // 30)  # never more than `votes` in all
    n_empty = min(EMPTY_ROUNDS, n_sections // 4)
    special = rng.choice(n_sections, n_small + n_empty, replace=False)
    special_cells = 2 * special + rng.integers(0, 2, len(special))
    small_cells, empty_cells = special_cells[:n_small], special_cells[n_small:]
    n[small_cells] = rng.integers(3, 30, n_small)
    normal = np.ones(cells, dtype=bool)
    normal[special_cells] = False
    remaining = max(0, votes - int(n.sum()))
    # Sections differ in size (how many service objects they have) more than rounds do.
    size = rng.lognormal(0.0, 0.5, n_sections)
    weights = np.repeat(size, 2) * rng.lognormal(0.0, 0.15, cells)
    weights[~normal] = 0.0
    if weights.sum() > 0:
        # At most `cap` votes a round where that is possible: a round samples at most
        # 500 service objects of a section (docs/rules.md §3).
        cap = cap if remaining <= 0.8 * cap * normal.sum() else np.inf
        target = _water_fill(weights, remaining, cap)
        whole = np.floor(target).astype(np.int64)
        rest = target - whole
        extra = remaining - int(whole.sum())  # < the number of cells with a fraction
        if extra > 0:
            whole[rng.choice(cells, extra, replace=False, p=rest / rest.sum())] += 1
        n += whole
    # Each round's propensity wobbles a little around the section's quality.
    p_s, p_b, p_u = _choice_probabilities(np.repeat(quality, 2) + rng.normal(0.0, 0.25, cells))
    s = rng.binomial(n, p_s)
    b = rng.binomial(n - s, np.clip(p_b / (p_b + p_u), 0.0, 1.0))
    u = n - s - b
    frame = pd.DataFrame(
        {
            C.UNIT: np.repeat(keys[C.UNIT].to_numpy(dtype=object), 2),
            C.SECTION: np.repeat(keys[C.SECTION].to_numpy(dtype=object), 2),
            C.ROUND: np.tile(np.array([C.H1, C.H2], dtype=object), n_sections),
            C.VOTES_S: s.astype("int64"),
            C.VOTES_B: b.astype("int64"),
            C.VOTES_U: u.astype("int64"),
        }
    )
    assert not n[empty_cells].any()
    return frame[n > 0].reset_index(drop=True)


def _coded(values, index: np.ndarray) -> pd.Categorical:
    """`values[index]` as a categorical: a per-vote frame repeats a few hundred names
    hundreds of thousands of times (and pandas would otherwise convert every cell)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return pd.Categorical.from_codes(codes[index], categories=uniques)


CHOICES = (C.CHOICE_S, C.CHOICE_B, C.CHOICE_U)


def expand_votes(counts: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per vote (UNIT, SECTION, ROUND, CHOICE, all categorical) from a counts
    frame, in a shuffled order (as votes arrive); `tally` of it gives `counts` back."""
    per_row = counts[COUNTS].to_numpy(dtype=np.int64)
    row_of = np.repeat(np.arange(len(counts)), per_row.sum(axis=1))
    choice = np.repeat(np.tile(np.arange(3), len(counts)), per_row.ravel())
    order = rng.permutation(len(row_of))
    row_of, choice = row_of[order], choice[order]
    return pd.DataFrame(
        {
            C.UNIT: _coded(counts[C.UNIT], row_of),
            C.SECTION: _coded(counts[C.SECTION], row_of),
            C.ROUND: _coded(counts[C.ROUND], row_of),
            C.CHOICE: pd.Categorical.from_codes(choice, categories=list(CHOICES)),
        }
    )


def synthetic_network(
    shortlisted: pd.DataFrame,
    ballots: int = 5000,
    seed: int = 0,
    per_vote: bool = False,
    *,
    settings: RuleSettings = PINGYANG_2021,
) -> pd.DataFrame:
    """The online round over the `shortlisted` sections (UNIT, SECTION): `ballots`
    ballots, each rating every candidate, exactly 10 满意 and 10 不满意 (settings;
    fewer when there are fewer candidates) and the rest 基本满意, each ballot's picks
    biased by the sections' quality (the same as `synthetic_year`'s with the same seed).

    Counts (UNIT, SECTION, ROUND = NET, VOTES_S/B/U, one row per candidate), or with
    `per_vote` one row per rating (UNIT, SECTION, ROUND, CHOICE categorical; BALLOT), ballot by
    ballot in the candidates' order; `tally` of the latter gives the former."""
    keys = shortlisted[[C.UNIT, C.SECTION]].reset_index(drop=True)
    m = len(keys)
    k_s = min(settings.ballot_satisfied, m)
    k_u = min(settings.ballot_unsatisfied, m - k_s)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    # 0 = 满意, 1 = 基本满意, 2 = 不满意; Gumbel top-k draws k without replacement
    # with probabilities ∝ exp(±quality).
    choice = np.ones((ballots, m), dtype=np.int8)
    if m and ballots:
        z = section_quality(keys, seed)
        rows = np.arange(ballots)[:, None]
        if k_s:
            key_s = z[None, :] + rng.gumbel(size=(ballots, m))
            sat = np.argpartition(-key_s, k_s - 1, axis=1)[:, :k_s]
            choice[rows, sat] = 0
        if k_u:
            key_u = -z[None, :] + rng.gumbel(size=(ballots, m))
            key_u[choice == 0] = -np.inf
            unsat = np.argpartition(-key_u, k_u - 1, axis=1)[:, :k_u]
            choice[rows, unsat] = 2
    if per_vote:
        candidate = np.tile(np.arange(m), ballots)
        return pd.DataFrame(
            {
                C.UNIT: _coded(keys[C.UNIT], candidate),
                C.SECTION: _coded(keys[C.SECTION], candidate),
                C.ROUND: pd.Categorical.from_codes(np.zeros(ballots * m, dtype=np.int8), categories=[C.NET]),
                C.CHOICE: pd.Categorical.from_codes(choice.ravel(), categories=list(CHOICES)),
                BALLOT: np.repeat(np.arange(1, ballots + 1, dtype=np.int64), m),
            }
        )
    counts = np.stack([(choice == c).sum(axis=0) for c in range(3)], axis=1).astype("int64")
    return pd.DataFrame(
        {
            C.UNIT: keys[C.UNIT].to_numpy(dtype=object),
            C.SECTION: keys[C.SECTION].to_numpy(dtype=object),
            C.ROUND: np.full(m, C.NET, dtype=object),
            C.VOTES_S: counts[:, 0],
            C.VOTES_B: counts[:, 1],
            C.VOTES_U: counts[:, 2],
        }
    )


# ---- events ----------------------------------------------------------------------------


def _pick_sections(keys: pd.DataFrame, weights: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    idx = rng.choice(len(keys), n, p=weights / weights.sum()) if n and len(keys) else np.zeros(0, dtype=np.int64)
    return keys[C.UNIT].to_numpy(dtype=object)[idx], keys[C.SECTION].to_numpy(dtype=object)[idx]


def _dates(year: int, n: int, outside: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dates inside the window (1 Dec of the previous year – 30 Nov), or where
    `outside`, in the two months before it or the month after it."""
    start = np.datetime64(f"{year - 1}-12-01")
    end = np.datetime64(f"{year}-11-30")
    days = int((end - start).astype(int))
    offset = rng.integers(0, days + 1, n)
    before = rng.random(n) < 0.6
    out_offset = np.where(before, -rng.integers(1, 61, n), days + rng.integers(1, 31, n))
    offset = np.where(outside, out_offset, offset)
    return (start + offset.astype("timedelta64[D]")).astype("datetime64[ns]")


def _platform(keys: pd.DataFrame, quality: np.ndarray, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Complaint-platform deductions: hotline 作风投诉 (3–5), 办理评价 (late 1, contact
    not updated 1, buck-passing 2, poor handling 3–5, urgent not handled 5; some as
    协办) and 网络监督 有效投诉 (1); weaker sections draw more of them."""
    unit, section = _pick_sections(keys, np.exp(-0.8 * quality) * rng.lognormal(0, 0.5, len(keys)), n, rng)
    item = rng.choice(np.array([C.CONDUCT, C.HANDLING, C.COMPLAINT], dtype=object), n, p=[0.15, 0.65, 0.2])
    conduct = rng.choice(np.array([3.0, 4.0, 5.0]), n, p=[0.5, 0.3, 0.2])
    # late, contact not updated, buck-passing, poor 3, 4, 5, urgent not handled
    handling = rng.choice(np.array([1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0]), n, p=[0.35, 0.2, 0.2, 0.1, 0.06, 0.04, 0.05])
    deduction = np.where(item == C.CONDUCT, conduct, np.where(item == C.HANDLING, handling, 1.0))
    role = np.where((item == C.HANDLING) & (rng.random(n) < 0.15), C.CO, C.LEAD).astype(object)
    platform = np.where(item == C.COMPLAINT, C.SUPERVISION_NET, C.HOTLINE).astype(object)
    return pd.DataFrame(
        {C.UNIT: unit, C.SECTION: section, C.PLATFORM: platform, C.ITEM: item,
         C.DEDUCTION: deduction.astype("float64"), C.ROLE: role}
    )


def _inspection(keys: pd.DataFrame, quality: np.ndarray, n: int, year: int, rng: np.random.Generator) -> pd.DataFrame:
    """Verified problems (county, city, complaint; about 1 in 10 serious) and a few
    cases (立案查处) against a person, most filed inside the case window, some not."""
    n_cases = min(n // 3, max(3, n // 100))
    unit, section = _pick_sections(keys, np.exp(-0.8 * quality) * rng.lognormal(0, 0.5, len(keys)), n, rng)
    kind = rng.choice(np.array([C.COUNTY, C.CITY_LEVEL, C.VERIFIED_COMPLAINT], dtype=object), n, p=[0.5, 0.2, 0.3])
    kind[n - n_cases:] = C.CASE
    is_case = kind == C.CASE
    serious = (rng.random(n) < 0.1) & ~is_case
    persons = np.array([C.PRINCIPAL, C.DEPUTY, C.STAFF, C.COLLECTIVE], dtype=object)
    person = np.where(is_case, rng.choice(persons, n, p=[0.1, 0.2, 0.6, 0.1]), None).astype(object)
    current = (rng.random(n) < 0.7) & is_case
    outside = is_case & (rng.random(n) < 0.2)
    if n_cases >= 3:
        outside[n - 1] = True  # at least one case filed outside the window
    return pd.DataFrame(
        {C.UNIT: unit, C.SECTION: section, C.KIND: kind, C.SERIOUS: serious.astype(bool), C.PERSON: person,
         C.CURRENT_YEAR: current.astype(bool), C.DATE: _dates(year, n, outside, rng)}
    )


_HONOURS = ("先进集体", "工作成绩突出集体", "示范窗口", "优秀组织单位", "青年文明号", "巾帼文明岗")
_TOPICS = ("营商环境优化", "最多跑一次改革", "数字化改革", "平安建设", "乡村振兴", "安全生产", "生态环境保护",
           "市场监管", "政务服务", "疫情防控", "信访工作", "法治政府建设", "项目攻坚", "文明城市创建", "共同富裕示范")
_STORIES = ("经验做法", "典型案例", "创新举措", "工作成效")


def _bonus(keys: pd.DataFrame, quality: np.ndarray, n: int, year: int, rng: np.random.Generator) -> pd.DataFrame:
    """Commendations (mostly city level, some provincial, rarely national) and
    publicity (city, provincial, central media); about 1 in 8 rows is the same matter
    again at another level; about 1 in 15 is dated outside the window."""
    n_again = n // 8
    n_base = n - n_again
    unit, section = _pick_sections(keys, np.exp(0.8 * quality) * rng.lognormal(0, 0.5, len(keys)), n_base, rng)
    kind = rng.choice(np.array([C.COMMENDATION, C.PUBLICITY], dtype=object), n_base)
    commendation = kind == C.COMMENDATION
    # Level as an index into (national, provincial, city) or (central, provincial, city).
    level_no = np.where(commendation, rng.choice(3, n_base, p=[0.05, 0.3, 0.65]), rng.choice(3, n_base, p=[0.1, 0.35, 0.55]))
    topic = rng.choice(np.array(_TOPICS, dtype=object), n_base)
    honour = rng.choice(np.array(_HONOURS, dtype=object), n_base)
    story = rng.choice(np.array(_STORIES, dtype=object), n_base)
    matter = np.where(commendation, f"{year}年度" + topic + honour, topic + story + "获媒体报道").astype(object)
    if n_again and n_base:
        # The same deed or item again, at another level of its kind.
        src = rng.choice(n_base, n_again)
        unit, section = np.concatenate([unit, unit[src]]), np.concatenate([section, section[src]])
        kind, matter = np.concatenate([kind, kind[src]]), np.concatenate([matter, matter[src]])
        level_no = np.concatenate([level_no, (level_no[src] + rng.integers(1, 3, n_again)) % 3])
        commendation = kind == C.COMMENDATION
    comm_levels = np.array([C.NATIONAL, C.PROVINCIAL, C.CITY], dtype=object)
    pub_levels = np.array([C.CENTRAL, C.PROVINCIAL, C.CITY], dtype=object)
    level = np.where(commendation, comm_levels[level_no], pub_levels[level_no]).astype(object)
    total = len(unit)
    outside = rng.random(total) < 1 / 15
    return pd.DataFrame(
        {C.UNIT: unit, C.SECTION: section, C.KIND: kind, C.LEVEL: level, C.MATTER: matter,
         C.DATE: _dates(year, total, outside, rng)}
    )


def _supervisor(keys: pd.DataFrame, quality: np.ndarray, rng: np.random.Generator, settings: RuleSettings) -> pd.DataFrame:
    """One score per participating section, one decimal, keeping each unit's tier
    distribution: of n sections, ⌊n/3⌋ or ⌊n/3⌋ + 1 in each of 优秀 [4, 5], 良好
    [3, 3.9], 一般 [0, 3); the better sections (by quality, with noise) get the higher tiers."""
    scores = np.zeros(len(keys))
    noisy = quality + rng.normal(0.0, 0.7, len(keys))
    units = keys[C.UNIT].to_numpy(dtype=object)
    for unit in pd.unique(units):
        idx = np.flatnonzero(units == unit)
        n = len(idx)
        sizes = np.full(3, n // 3)
        sizes[rng.choice(3, n % 3, replace=False)] += 1
        ranked = idx[np.argsort(-noisy[idx], kind="stable")]
        tier = np.repeat(np.arange(3), sizes)  # 0 优秀，1 良好，2 一般
        tenths = np.where(tier == 0, rng.integers(40, 51, n), np.where(tier == 1, rng.integers(30, 40, n), rng.integers(15, 30, n)))
        scores[ranked] = tenths / 10.0
    frame = pd.DataFrame({C.UNIT: keys[C.UNIT].to_numpy(dtype=object), C.SECTION: keys[C.SECTION].to_numpy(dtype=object), C.SCORE: scores})
    problems = tier_problems(frame, settings)
    if problems:  # pragma: no cover - the construction above cannot break it
        raise AssertionError("; ".join(p.message for p in problems))
    return frame


# ---- the year ----------------------------------------------------------------------------


def synthetic_year(
    sections: pd.DataFrame,
    year: int = 2021,
    *,
    votes: int = 200_000,
    events: int = 3000,
    ballots: int = 5000,
    seed: int = 0,
    per_vote: bool = False,
    network: bool = False,
    settings: RuleSettings = PINGYANG_2021,
) -> YearInputs:
    """A plausible year over `sections` (UNIT, SECTION; the real list is
    `pingyang_sections()`).

    - history: the two previous years (`history_rows`): 8 exempt sections, 10 of last
      year's 不满意单位 (3 最不满意单位);
    - votes: `votes` H1 + H2 votes over the participating (non-exempt) sections, a few
      section-rounds under 30 votes and one or two with none; counts (VOTES_S/B/U),
      or with `per_vote` one row per vote (CHOICE); the two forms of one seed agree;
    - platform, inspection, bonus: `events` rows in all (60 / 25 / 15 %);
    - supervisor: one score per participating section, keeping the tier rule.

    No NET rows unless `network`: the shortlist is known only after scoring, so
    `network=True` scores the daily stage and adds `synthetic_network(shortlist,
    ballots, seed, per_vote)`."""
    sections = sections[[C.UNIT, C.SECTION]].reset_index(drop=True)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, year]).spawn(6)]
    votes_rng, platform_rng, inspection_rng, bonus_rng, supervisor_rng, shuffle_rng = streams

    history = pd.DataFrame(
        history_rows(list(zip(sections[C.UNIT], sections[C.SECTION])), random.Random(seed), year),
        columns=[C.YEAR, C.UNIT, C.SECTION, C.RESULT],
    )
    history[C.YEAR] = history[C.YEAR].astype("int64")
    flags = history_flags(sections, history, year, settings)
    participating = ~flags[C.EXEMPT].to_numpy()
    keys = sections[participating].reset_index(drop=True)
    quality = section_quality(keys, seed)

    counts = _service_votes(keys, quality, votes, votes_rng, settings.max_objects_per_section)
    n_platform = round(events * EVENT_SHARES[0])
    n_inspection = round(events * EVENT_SHARES[1])
    n_bonus = max(0, events - n_platform - n_inspection)
    if keys.empty:
        n_platform = n_inspection = n_bonus = 0
    inputs = YearInputs(
        year=year,
        sections=sections,
        history=history,
        votes=expand_votes(counts, shuffle_rng) if per_vote else counts,
        platform=_platform(keys, quality, n_platform, platform_rng),
        supervisor=_supervisor(keys, quality, supervisor_rng, settings),
        inspection=_inspection(keys, quality, n_inspection, year, inspection_rng),
        bonus=_bonus(keys, quality, n_bonus, year, bonus_rng),
    )
    if network:
        net = synthetic_network(shortlist(inputs, settings), ballots, seed, per_vote, settings=settings)
        inputs.votes = _concat(inputs.votes, net.drop(columns=[BALLOT], errors="ignore"))
    return inputs


def _concat(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Rows of both; categorical columns stay categorical (plain `pd.concat` of two
    categoricals with different categories gives strings, 750,000 of them)."""
    columns = {}
    for name in first.columns:
        a, b = first[name], second[name]
        if isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype):
            columns[name] = union_categoricals([a, b])
        else:
            columns[name] = pd.concat([a, b], ignore_index=True)
    return pd.DataFrame(columns)


def shortlist(inputs: YearInputs, settings: RuleSettings = PINGYANG_2021) -> pd.DataFrame:
    """The shortlisted sections (UNIT, SECTION, SHORTLIST) of a year scored without
    its online round."""
    daily = YearInputs(**{**vars(inputs), "votes": _without_net(inputs.votes)})
    card = score_year(daily, settings)
    listed = card.sections[card.sections[C.SHORTLIST].notna()]
    return listed[[C.UNIT, C.SECTION, C.SHORTLIST]].reset_index(drop=True)


def _without_net(votes: pd.DataFrame) -> pd.DataFrame:
    return votes[votes[C.ROUND] != C.NET].reset_index(drop=True)


# ---- the exchange files' folder (docs/rules.md §6) ---------------------------------------


def _counts(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame(columns=VOTE_COLUMNS)
    return tally(frame)[VOTE_COLUMNS]


def _dates_text(values: pd.Series) -> list[str]:
    return ["" if pd.isna(d) else pd.Timestamp(d).strftime("%Y-%m-%d") for d in values]


def _number_text(values: pd.Series) -> list[str]:
    return [f"{float(v):g}" for v in values]


def _yes_no(values) -> list[str]:
    return [L.label(L.YES_NO, bool(v)) for v in values]


def _write(frame: pd.DataFrame, kind: str, directory: Path) -> None:
    frame.columns = HEADERS[kind]
    frame.to_csv(directory / f"{kind}.csv", index=False, encoding="utf-8-sig")


def write_bundle(inputs: YearInputs, directory: Path, *, network: pd.DataFrame | None = None) -> None:
    """Write `inputs` as a folder of exchange files (docs/rules.md §6): sections.csv, history.csv, votes.csv (H1 /
    H2 counts, and NET from `inputs.votes` and `network`, per-vote frames counted
    first), platform.csv, supervisor.csv, inspection.csv, bonus.csv — UTF-8 with BOM,
    Chinese headers and values, ISO dates. An empty frame writes no file (votes.csv
    and sections.csv are always written)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    sections = inputs.sections[[C.UNIT, C.SECTION]].reset_index(drop=True)
    unit_no = pd.factorize(sections[C.UNIT])[0] + 1
    section_no = sections.groupby(C.UNIT, sort=False).cumcount() + 1
    _write(pd.DataFrame({0: unit_no, 1: sections[C.UNIT], 2: section_no, 3: sections[C.SECTION]}), "sections", directory)

    history = inputs.history
    if history is not None and len(history):
        _write(
            pd.DataFrame({0: history[C.YEAR].astype(int), 1: history[C.UNIT], 2: history[C.SECTION],
                          3: [L.label(L.RESULTS, r) for r in history[C.RESULT]]}),
            "history", directory,
        )

    counts = _counts(pd.concat([_counts(inputs.votes), _counts(network)], ignore_index=True))
    position = {key: i for i, key in enumerate(zip(sections[C.UNIT], sections[C.SECTION]))}
    order = np.lexsort((
        counts[C.ROUND].map({r: i for i, r in enumerate(ROUND_ORDER)}).fillna(len(ROUND_ORDER)).to_numpy(),
        np.array([position.get(k, len(position)) for k in zip(counts[C.UNIT], counts[C.SECTION])]),
    ))
    counts = counts.iloc[order]
    _write(
        pd.DataFrame({0: counts[C.UNIT], 1: counts[C.SECTION], 2: [L.label(L.ROUNDS, r) for r in counts[C.ROUND]],
                      3: counts[C.VOTES_S].astype(int), 4: counts[C.VOTES_B].astype(int), 5: counts[C.VOTES_U].astype(int)}),
        "votes", directory,
    )

    platform = inputs.platform
    if platform is not None and len(platform):
        _write(
            pd.DataFrame({0: platform[C.UNIT], 1: platform[C.SECTION],
                          2: [L.label(L.PLATFORMS, p) for p in platform[C.PLATFORM]],
                          3: [L.label(L.ITEMS, i) for i in platform[C.ITEM]],
                          4: _number_text(platform[C.DEDUCTION]),
                          5: [L.label(L.ROLES, r) for r in platform[C.ROLE]]}),
            "platform", directory,
        )

    supervisor = inputs.supervisor
    if supervisor is not None and len(supervisor):
        _write(
            pd.DataFrame({0: supervisor[C.UNIT], 1: supervisor[C.SECTION],
                          2: [f"{float(v):.1f}" for v in supervisor[C.SCORE]]}),
            "supervisor", directory,
        )

    inspection = inputs.inspection
    if inspection is not None and len(inspection):
        case = (inspection[C.KIND] == C.CASE).to_numpy()
        _write(
            pd.DataFrame({0: inspection[C.UNIT], 1: inspection[C.SECTION],
                          2: [L.label(L.INSPECTION_KINDS, k) for k in inspection[C.KIND]],
                          3: _yes_no(inspection[C.SERIOUS]),
                          4: [L.label(L.PERSONS, p) if c else "" for p, c in zip(inspection[C.PERSON], case)],
                          5: [L.label(L.YES_NO, bool(v)) if c else "" for v, c in zip(inspection[C.CURRENT_YEAR], case)],
                          6: _dates_text(inspection[C.DATE])}),
            "inspection", directory,
        )

    bonus = inputs.bonus
    if bonus is not None and len(bonus):
        _write(
            pd.DataFrame({0: bonus[C.UNIT], 1: bonus[C.SECTION],
                          2: [L.label(L.BONUS_KINDS, k) for k in bonus[C.KIND]],
                          3: [L.label(L.BONUS_LEVELS[k], lv) for k, lv in zip(bonus[C.KIND], bonus[C.LEVEL])],
                          4: bonus[C.MATTER], 5: _dates_text(bonus[C.DATE])}),
            "bonus", directory,
        )


def example_bundle(directory: Path, *, seed: int = 2021, network: bool = True, year: int = 2021) -> None:
    """`pingyi bundle example`: a bundle of the real 363 sections with a synthetic year
    (and its online round), for trying `pingyi bundle score` and for the tests."""
    inputs = synthetic_year(pingyang_sections(), year, seed=seed, network=network)
    write_bundle(inputs, directory)
