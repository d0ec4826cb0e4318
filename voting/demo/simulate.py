"""A whole simulated year on the platform, from the command line (`pingyi demo-year`):
the fastest way to see the workflow end to end. Everything goes through the services
the pages use; only the people are simulated:

1. the real 2021 Pingyang section list, a synthetic history and H1/H2 service-object
   lists, imported as a review office would;
2. survey rounds H1 and H2 opened (sampling, invitations, SMS in the outbox) and
   answered by simulated citizens through `votes.cast_vote`, by link, SMS reply or
   phone survey, then closed;
3. the other daily-stage components (complaint platforms, supervisor scores,
   inspections, bonus items) imported from synthetic files;
4. the candidate list fixed, the online round set up (representatives imported,
   service objects sampled, accounts issued by SMS), simulated evaluators filling
   ballots with exactly 10 满意 and 10 不满意, the round closed;
5. the scorecard: the proposed final lists.

Citizens' and evaluators' choices follow each section's synthetic quality
(`voting.demo.synthetic.section_quality`), so the lists are plausible, and the same seed
gives the same year."""
from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring import columns as C
from scoring.engine import Scorecard
from voting.demo.campaign import demo_sections_csv, synth_objects
from voting.survey.links import link_tokens, wording
from voting.online.models import EVALUATOR_KIND_LABELS, Evaluator, EvaluatorKind
from voting.lists.models import Campaign, RoundKind, Section, Unit
from voting.survey.models import Channel, Choice, Invitation
from voting.components.models import ComponentKind
from voting.core.models import utcnow
from voting.online import ballots, evaluators
from voting.lists import campaigns, history, objects, sections
from voting.components import components
from voting.survey import rounds, votes
from voting.scores import scorecards
from voting.demo.synthetic import (
    _choice_probabilities,
    pingyang_sections,
    section_quality,
    synthetic_year,
    write_bundle,
)

CHANNELS = (Channel.link, Channel.link, Channel.link, Channel.sms, Channel.phone)  # most vote by link


@dataclass
class YearRun:
    campaign: Campaign
    card: Scorecard
    lists: dict[str, list[list[str]]]  # scorecards.final_lists: result value -> [unit, section]
    invitations: int
    votes: int
    evaluators: int
    ballots: int


def _quality(session: Session, campaign: Campaign, seed: int) -> dict[int, float]:
    """Each section's synthetic quality, by section id."""
    rows = session.execute(
        select(Section.id, Unit.name, Section.name).join(Unit).where(Unit.campaign_id == campaign.id)
    ).all()
    keys = pd.DataFrame([(u, s) for _, u, s in rows], columns=[C.UNIT, C.SECTION])
    return dict(zip((r[0] for r in rows), section_quality(keys, seed)))


def _lists(session: Session, campaign: Campaign, rng: random.Random, size: int, echo: Callable[[str], None]) -> None:
    """H1 and H2 service-object lists for every participating section: about `size`
    people each (管理执法类 sections more, most of them penalized)."""
    statuses = history.section_statuses(session, campaign)
    for kind in (RoundKind.H1, RoundKind.H2):
        parts = []
        for row in statuses[~statuses["exempt"]].to_dict("records"):
            count = rng.randint(size // 2, size) if not row["is_enforcement"] else rng.randint(size, size * 3 // 2)
            penalized = rng.randint(count * 2 // 3, count) if row["is_enforcement"] else rng.randint(0, 3)
            part = synth_objects(rng, count, penalized)
            part.insert(0, "科室", row["section"])
            part.insert(0, "单位名称", row["unit"])
            parts.append(part)
        data = pd.concat(parts).to_csv(index=False).encode("utf-8")
        # Lists under 100 people: every penalized object is on them (the office confirms so).
        summary = objects.import_objects(session, campaign, kind, data, f"simulated-{kind.value}.csv",
                                         all_penalized_reported=True)
        echo(f"已导入 {kind.value} 服务对象名单：{summary.stored} 人，{len(summary.sections)} 个科室")


def _quiet(**_: object) -> None:
    """No progress shown (the default of `simulate_year`'s `progress`)."""


def _survey(
    session: Session, app: Flask, campaign: Campaign, kind: RoundKind, per_section: int, response: float,
    quality: dict[int, float], rng: np.random.Generator, seed: int, echo: Callable[[str], None],
    progress: Callable[..., None] = _quiet,
) -> tuple[int, int]:
    """Open a survey round, let the sampled citizens answer, close it: (invited, voted)."""
    survey = rounds.create_round(session, campaign, kind, utcnow() + timedelta(days=14), per_section, seed=seed)
    progress(done=0, total=0, stage=f"{kind.value} 轮调查：抽样并写入邀请短信")
    summary = rounds.open_round(session, campaign, survey, link_tokens(app), wording(app, "http://localhost/"))
    invited = session.execute(select(Invitation.id, Invitation.section_id).where(Invitation.round_id == survey.id)).all()
    choices = list(Choice)
    voted = 0
    progress(done=0, total=len(invited), stage=f"{kind.value} 轮调查：模拟市民评价")
    for n, (invitation_id, section_id) in enumerate(invited, 1):
        if n % 200 == 0:
            progress(done=n)
        if rng.random() >= response:
            continue
        p_s, p_b, p_u = _choice_probabilities(np.array([quality[section_id]]))
        choice = choices[int(rng.choice(3, p=[p_s[0], p_b[0], p_u[0]]))]
        votes.cast_vote(session, invitation_id, choice, CHANNELS[int(rng.integers(len(CHANNELS)))])
        voted += 1
    rounds.close_round(session, survey)
    echo(f"{kind.value} 轮调查：{summary.sections} 个科室抽样 {summary.invitations} 人，收回 {voted} 票，已结束")
    return len(invited), voted


def _components(session: Session, campaign: Campaign, folder: Path, echo: Callable[[str], None]) -> None:
    """The daily components other than the votes (the rounds produced those)."""
    for kind in ComponentKind:
        path = folder / f"{kind.value}.csv"
        if kind is ComponentKind.votes or not path.exists():
            continue
        summary = components.import_component(session, campaign, kind, path.read_bytes(), path.name)
        echo(f"已导入{kind.label}：{summary.stored} 行")


def daily_stage(
    session: Session, app: Flask, *, year: int, seed: int, list_size: int, per_section: int, response: float,
    echo: Callable[[str], None], progress: Callable[..., None] = _quiet,
) -> tuple[Campaign, int, int]:
    """Steps 1-3: the campaign with its lists, both survey rounds and the components."""
    progress(done=0, total=0, stage="导入参评科室和服务对象名单")
    campaign = campaigns.create_campaign(session, year)
    listed = sections.parse_sections(demo_sections_csv(), "pingyang-2021-sections.csv")
    sections.apply_sections(session, campaign, listed)
    echo(f"已创建 {year} 年度评议活动，导入参评科室 {len(listed)} 个")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_bundle(synthetic_year(pingyang_sections(), year, seed=seed), folder)
        # History first: it decides which sections are exempt this year.
        history.import_history(session, campaign, (folder / "history.csv").read_bytes(), "history.csv")
        _lists(session, campaign, random.Random(seed), list_size, echo)
        quality = _quality(session, campaign, seed)
        rng = np.random.default_rng(seed)
        invited = voted = 0
        for offset, kind in enumerate((RoundKind.H1, RoundKind.H2)):
            i, v = _survey(session, app, campaign, kind, per_section, response, quality, rng, seed + offset, echo,
                           progress)
            invited, voted = invited + i, voted + v
        progress(done=0, total=0, stage="导入其他评分数据")
        _components(session, campaign, folder, echo)
    return campaign, invited, voted


# ---- the online round --------------------------------------------------------------------


REPRESENTATIVE_KINDS = [kind for kind in EvaluatorKind if kind is not EvaluatorKind.service_object]


def _representatives(rng: random.Random, count: int) -> bytes:
    """The representatives' file as the office would upload it (姓名, 类别, 手机号码)."""
    people = synth_objects(rng, count)
    frame = pd.DataFrame({
        "姓名": people["姓名"],
        "类别": [EVALUATOR_KIND_LABELS[rng.choice(REPRESENTATIVE_KINDS)] for _ in range(count)],
        "手机号码": people["手机号码"],
    })
    return frame.to_csv(index=False).encode("utf-8")


def _marks(candidates: list, quality: dict[int, float], satisfied: int, unsatisfied: int,
           rng: np.random.Generator) -> list[tuple[int, Choice]]:
    """One evaluator's ballot: the 满意 drawn towards the better sections, the 不满意
    towards the weaker ones (each evaluator's own noisy view), the rest 基本满意."""
    ids = [c.section_id for c in candidates]
    view = np.array([quality[i] for i in ids]) + rng.normal(0.0, 0.8, len(ids))
    order = np.argsort(view)
    worst, best = set(order[:unsatisfied].tolist()), set(order[len(ids) - satisfied:].tolist())
    return [(sid, Choice.satisfied if i in best else Choice.unsatisfied if i in worst else Choice.basic)
            for i, sid in enumerate(ids)]


def online_stage(
    session: Session, app: Flask, campaign: Campaign, *, seed: int, representatives: int, turnout: float,
    echo: Callable[[str], None], progress: Callable[..., None] = _quiet,
) -> tuple[int, int]:
    """Step 4: fix the candidates, run the online round; (evaluators, ballots)."""
    progress(done=0, total=0, stage="网络评价：确定候选名单、导入代表、发放账号")
    fixed = scorecards.fix_candidates(session, campaign, None)
    echo(f"已确定候选名单：{fixed} 个科室")
    online = evaluators.create_round(session, campaign, utcnow() + timedelta(days=7), seed=seed)
    imported = evaluators.import_representatives(session, online, _representatives(random.Random(seed + 7), representatives),
                                                 "representatives.csv")
    sampled = evaluators.sample_service_objects(session, online)
    sent = evaluators.issue_accounts(session, online, wording(app, "http://localhost/"))
    echo(f"网络评价：导入代表等 {imported.stored} 人，抽取服务对象 {sampled.added} 人"
         f"（服务对象占 {sampled.mix.share or 0:.0%}），已发送账号短信 {sent} 条")
    candidates = ballots.ballot_candidates(session, campaign.id)
    rules = ballots.ballot_rules(campaign.rules, len(candidates))
    quality = _quality(session, campaign, seed)
    rng = np.random.default_rng(seed + 11)
    people = list(session.scalars(select(Evaluator).where(Evaluator.round_id == online.id).order_by(Evaluator.id)))
    cast = 0
    progress(done=0, total=len(people), stage="网络评价：模拟评价人投票")
    for n, person in enumerate(people, 1):
        if n % 50 == 0:
            progress(done=n)
        if rng.random() >= turnout:
            continue
        ballots.submit_ballot(session, person, _marks(candidates, quality, rules.satisfied, rules.unsatisfied, rng))
        cast += 1
    ballots.close(session, online, actor="system")
    echo(f"网络评价：{len(people)} 位评价人，收回选票 {cast} 张，已结束")
    return len(people), cast


def simulate_year(
    session: Session, app: Flask, *, year: int = 2021, seed: int = 2021, list_size: int = 80, per_section: int = 30,
    response: float = 0.7, representatives: int = 350, turnout: float = 0.85,
    echo: Callable[[str], None] = print, progress: Callable[..., None] = _quiet,
) -> YearRun:
    """The whole year (steps 1-5); the caller commits. `list_size` people on a
    section's list, `per_section` of them invited per round, `response` of those
    answer; `representatives` imported, service objects sampled to the rule's share,
    `turnout` of the evaluators fill a ballot. `progress(done=, total=, stage=)` hears
    each stage's progress (the command's progress bar: a jobs.Progress)."""
    campaign, invited, voted = daily_stage(
        session, app, year=year, seed=seed, list_size=list_size, per_section=per_section, response=response, echo=echo,
        progress=progress,
    )
    people, cast = online_stage(session, app, campaign, seed=seed, representatives=representatives, turnout=turnout,
                                echo=echo, progress=progress)
    progress(done=0, total=0, stage="评分")
    session.flush()
    card = scorecards.campaign_scorecard(session, campaign)
    lists = scorecards.final_lists(session, campaign, card)
    return YearRun(campaign, card, lists, invited, voted, people, cast)
