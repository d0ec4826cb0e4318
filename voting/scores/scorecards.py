"""A campaign's scoring: the database's rows as the frames `scoring` takes, the
Scorecard back, the review office's decisions on the final lists, and their
publication once the online round is closed."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeAlias, TypeVar, cast

import pandas as pd
from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from scoring import columns as C
from scoring.engine import InputError, Scorecard, YearInputs, score_year
from voting.core.errors import DomainError, NotFoundError
from voting.audit.models import AuditEntry
from voting.components.models import BonusItem, InspectionEvent, PlatformEvent, SupervisorScore, VoteCount
from voting.lists.models import Campaign, Result, Section, Unit
from voting.online.models import Candidate, OnlineRound
from voting.survey.models import Choice, RoundStatus, Vote
from voting.scores.models import ResultDecision
from voting.staff.models import User
from voting.core.models import utcnow
from voting.audit import audit
from voting.online.ballots import ballot_candidates, online_counts, online_round
from voting.lists.history import history_frame
from voting.survey.rounds import vote_counts
from voting.lists.sections import sections_frame
from voting.components.deductions import inspection_frame

T = TypeVar("T")
# The models of one section's events that `_frame` reads (each has a section_id).
SectionRows: TypeAlias = type[VoteCount] | type[PlatformEvent] | type[SupervisorScore] | type[InspectionEvent] | type[BonusItem]


def _frame(session: Session, campaign: Campaign, model: SectionRows, columns: dict[str, str]) -> pd.DataFrame:
    attributes = [getattr(model, attr) for attr in columns.values()]
    rows = session.execute(
        select(Unit.name, Section.name, *attributes)
        .join(Section, model.section_id == Section.id)
        .join(Unit)
        .where(Unit.campaign_id == campaign.id)
        .order_by(model.section_id, *attributes)
    ).all()
    return pd.DataFrame(rows, columns=[C.UNIT, C.SECTION, *columns])


def year_inputs(session: Session, campaign: Campaign) -> YearInputs:
    """Everything stored for the campaign, in `scoring`'s frames."""
    sections = sections_frame(session, campaign).rename(columns={"unit": C.UNIT, "section": C.SECTION})
    # Imported counts (a survey run outside the platform) and the platform's own votes,
    # added up per section and round by the scoring.
    votes = _frame(session, campaign, VoteCount, {C.ROUND: "round", C.VOTES_S: "satisfied", C.VOTES_B: "basic", C.VOTES_U: "unsatisfied"})
    own = vote_counts(session, campaign)
    if len(own):
        votes = pd.concat([votes, own], ignore_index=True) if len(votes) else own
    online = online_counts(session, campaign)  # the online round's ballots (NET), once it is closed
    if len(online):
        votes = pd.concat([votes, online], ignore_index=True) if len(votes) else online
    # C.ROW: the imported file's row, quoted in the explanations (None for hand entries).
    platform = _frame(
        session, campaign, PlatformEvent,
        {C.PLATFORM: "platform", C.ITEM: "item", C.DEDUCTION: "deduction", C.ROLE: "role", C.ROW: "source_row"},
    )
    supervisor = _frame(session, campaign, SupervisorScore, {C.SCORE: "score"})
    # With the review office's own deductions (应报未报, 影响评议工作: their points, reasons
    # and the section found missing), voting/components/deductions.py.
    inspection = inspection_frame(session, campaign)
    bonus = _frame(
        session, campaign, BonusItem, {C.KIND: "kind", C.LEVEL: "level", C.MATTER: "matter", C.DATE: "date", C.ROW: "source_row"},
    )
    decisions = session.execute(
        select(Unit.name, Section.name, ResultDecision.result, ResultDecision.reason)
        .join(Section, ResultDecision.section_id == Section.id)
        .join(Unit)
        .where(Unit.campaign_id == campaign.id)
    ).all()
    return YearInputs(
        candidates=fixed_candidates(session, campaign),
        year=campaign.year,
        sections=sections[[C.UNIT, C.SECTION]],
        history=history_frame(session),
        votes=votes,
        platform=platform,
        supervisor=supervisor,
        inspection=inspection,
        bonus=bonus,
        decisions=pd.DataFrame(
            [(u, s, r.value if r else None, reason) for u, s, r, reason in decisions],
            columns=[C.UNIT, C.SECTION, C.RESULT, C.TEXT],
        ),
    )


class ScoringError(DomainError):
    """The stored data cannot be scored as it stands (e.g. online-round votes for a
    section the shortlist no longer holds); the message says what to fix."""

    status = 422


def campaign_scorecard(session: Session, campaign: Campaign) -> Scorecard:
    """Score the campaign as it stands now (nothing is stored: scores are always
    worked out from the events, so they can never drift from them)."""
    try:
        card = score_year(year_inputs(session, campaign), campaign.rules)
    except InputError as error:
        raise ScoringError("无法评分：" + "；".join(message for _, message in error.problems)) from None
    ids = sections_frame(session, campaign).set_index(["unit", "section"])["id"]
    card.sections["section_id"] = ids.reindex(pd.MultiIndex.from_frame(card.sections[[C.UNIT, C.SECTION]])).to_numpy()
    return card


def score_version(session: Session) -> tuple[int, int]:
    """A marker that moves whenever anything a scorecard is computed from may have
    changed: (the audit log's last entry, the platform's votes).

    Every other write that moves a score records an audit entry in its own transaction
    (section, history and component imports, single entries and their deletion,
    supervisor scores, the campaign's settings, the candidate list, the review office's
    decisions, the online round's close, which makes its ballots count); the log takes
    one appender at a time (audit.record), so its last id only grows as they commit.
    Votes are cast without an entry, one row each and never deleted, so their count
    moves with every vote. Global, not per campaign: a change elsewhere only costs a
    recount."""
    audit_head = select(func.max(AuditEntry.id)).scalar_subquery()
    votes = select(func.count()).select_from(Vote).scalar_subquery()
    head, count = session.execute(select(audit_head, votes)).one()
    return head or 0, count


class ScoreCache:
    """Figures worked out from what the scores are computed from, the scorecard first
    (a county's year takes about half a second to score), computed once per change
    instead of on every page: each campaign's are kept with the `score_version` they
    were computed at, and all dropped when it moves.

    For the pages that only read (GET): the version is read first, then the figure is
    computed, so a figure can only be newer than its version says, never older. A write
    must not use it: inside a transaction that has not committed, the version and the
    data could be ones that never come to be. One per app (app.extensions
    ["pingyi.score_cache"]), in each worker process; what it hands out is shared, so it
    is read, never changed."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[tuple[int, int], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def figure(self, session: Session, campaign: Campaign, name: str, compute: Callable[[], T]) -> T:
        """The figure `name` of the campaign: kept, or `compute()`d now and kept. Only
        for a figure that nothing but the writes `score_version` follows can change."""
        version = score_version(session)
        with self._lock:
            entry = self._entries.get(campaign.id)
            if entry is None or entry[0] != version:
                entry = self._entries[campaign.id] = (version, {})
            if name in entry[1]:
                return entry[1][name]
        value = compute()
        with self._lock:
            entry[1][name] = value
        return value

    def scorecard(self, session: Session, campaign: Campaign) -> Scorecard:
        return self.figure(session, campaign, "scorecard", lambda: campaign_scorecard(session, campaign))


def decide(
    session: Session, campaign: Campaign, section_id: int, result: Result | None, reason: str, decided_by: User | None,
    *, actor: str = "system",
) -> ResultDecision:
    """Confirm or override one section's proposed result, with the reason recorded.
    Only a shortlisted section, after the online round, can have a result."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("请填写理由（确认或调整评议结果都须记录理由）")
    section = session.get(Section, section_id)
    if section is None or section.unit.campaign_id != campaign.id:
        raise NotFoundError("没有这个参评科室")
    card = campaign_scorecard(session, campaign)
    if not card.network_held:
        raise DomainError("网络评价尚未进行，还不能确定评议结果")
    row = card.sections[card.sections["section_id"] == section_id]
    if row.empty or pd.isna(row[C.SHORTLIST].iloc[0]):
        raise DomainError(f"{section.unit.name} {section.name} 不在候选名单中，不能列入评议结果")
    decision = session.get(ResultDecision, section_id) or ResultDecision(section_id=section_id)
    previous = decision.result.value if decision.result else None
    decision.result = result
    decision.reason = reason
    decision.decided_by_id = decided_by.id if decided_by else None
    decision.decided_at = utcnow()
    session.add(decision)
    session.flush()
    proposed = row[C.RESULT].iloc[0]
    audit.record(session, "result.decide", actor=actor, campaign_id=campaign.id, detail={
        "section_id": section_id, "section": f"{section.unit.name} {section.name}",
        "result": result.value if result else None, "proposed": None if pd.isna(proposed) else proposed,
        "previous": previous, "reason": reason,
    })
    return decision


def recorded_decision(session: Session, section_id: int) -> ResultDecision | None:
    """The review office's decision on the section's final list, if it made one."""
    return session.get(ResultDecision, section_id)


def fixed_candidates(session: Session, campaign: Campaign) -> pd.DataFrame | None:
    """The candidate list the review office fixed (UNIT, SECTION, SHORTLIST), or None."""
    rows = session.execute(
        select(Unit.name, Section.name, Candidate.list)
        .join(Section, Candidate.section_id == Section.id).join(Unit)
        .where(Candidate.campaign_id == campaign.id)
    ).all()
    if not rows:
        return None
    return pd.DataFrame(rows, columns=[C.UNIT, C.SECTION, C.SHORTLIST])


def candidates_fixed(session: Session, campaign: Campaign) -> Candidate | None:
    """One entry of the fixed list (for when and by whom), or None if not fixed."""
    return session.scalar(select(Candidate).where(Candidate.campaign_id == campaign.id).limit(1))


def fix_candidates(session: Session, campaign: Campaign, fixed_by: User | None, *, actor: str = "system") -> int:
    """Fix the candidate list as the daily scores give it now (ties the chain could not
    break stay where the engine placed them: on the harmless side). Returns how many."""
    if candidates_fixed(session, campaign) is not None:
        raise DomainError("候选名单已经确定")
    card = campaign_scorecard(session, campaign)
    chosen = card.sections[card.sections[C.SHORTLIST].notna()]
    if chosen.empty:
        raise DomainError("还没有候选科室，不能确定候选名单")
    now = utcnow()
    session.add_all(
        Candidate(section_id=int(sid), campaign_id=campaign.id, list=code, fixed_at=now,
                  fixed_by_id=fixed_by.id if fixed_by else None)
        for sid, code in zip(chosen["section_id"], chosen[C.SHORTLIST])
    )
    session.flush()
    audit.record(session, "candidates.fix", actor=actor, campaign_id=campaign.id, detail={
        "candidates": len(chosen), "lists": {str(k): int(n) for k, n in chosen[C.SHORTLIST].value_counts().items()},
        "section_ids": sorted(int(sid) for sid in chosen["section_id"]),
    })
    return len(chosen)


def unfix_candidates(session: Session, campaign: Campaign, *, actor: str = "system") -> None:
    """Let the list follow the daily scores again: only before the online round."""
    if candidates_fixed(session, campaign) is None:
        raise DomainError("候选名单尚未确定")
    if campaign_scorecard(session, campaign).network_held:
        raise DomainError("网络评价已经有票，候选名单不能撤销")
    online = online_round(session, campaign)
    if online is not None and online.status is not RoundStatus.draft:  # evaluators hold ballots over this list
        raise DomainError("网络评价已经开始，候选名单不能撤销")
    # A DELETE's result is a CursorResult, which has the rowcount.
    removed = cast(CursorResult, session.execute(delete(Candidate).where(Candidate.campaign_id == campaign.id))).rowcount
    session.flush()
    audit.record(session, "candidates.unfix", actor=actor, campaign_id=campaign.id, detail={"candidates": removed})


def undo_decision(session: Session, campaign: Campaign, section_id: int, *, actor: str = "system") -> None:
    """Back to the proposal."""
    decision = session.get(ResultDecision, section_id)
    if decision is None or decision.section.unit.campaign_id != campaign.id:
        raise NotFoundError("这个科室没有评议办的决定")
    detail = {
        "section_id": section_id, "section": f"{decision.section.unit.name} {decision.section.name}",
        "undone_result": decision.result.value if decision.result else None, "undone_reason": decision.reason,
    }
    session.delete(decision)
    session.flush()
    audit.record(session, "result.undo", actor=actor, campaign_id=campaign.id, detail=detail)


def imported_network_counts(session: Session, campaign: Campaign) -> dict[int, dict[Choice, int]]:
    """The NET counts stored as the vote-count component (from a file, or entered by
    hand), per section: the scoring adds them to the online round's tallies
    (year_inputs), so the online score is made of both."""
    return {
        section_id: {Choice.satisfied: s, Choice.basic: b, Choice.unsatisfied: u}
        for section_id, s, b, u in session.execute(
            select(VoteCount.section_id, VoteCount.satisfied, VoteCount.basic, VoteCount.unsatisfied)
            .join(Section, VoteCount.section_id == Section.id).join(Unit)
            .where(Unit.campaign_id == campaign.id, VoteCount.round == C.NET)
        )
    }


# ---- the published lists ------------------------------------------------------------------------

PUBLISHED_LISTS = (Result.satisfied, Result.unsatisfied, Result.most_unsatisfied)
_RESULT_CODES = {Result.satisfied: C.SATISFIED, Result.unsatisfied: C.UNSATISFIED, Result.most_unsatisfied: C.MOST_UNSATISFIED}


def final_lists(session: Session, campaign: Campaign, card: Scorecard) -> dict[str, list[list[str]]]:
    """The decided lists of the scorecard (the review office's decisions over the
    proposals), each in the neutral ballot order: 不满意单位 includes the
    最不满意单位, which are listed once more on their own."""
    order = {c.section_id: i for i, c in enumerate(ballot_candidates(session, campaign.id))}
    sections = card.sections[card.sections[C.RESULT].notna()]
    rows = sorted(
        ((order.get(int(sid), len(order)), unit, section, result)
         for sid, unit, section, result in zip(sections["section_id"], sections[C.UNIT], sections[C.SECTION], sections[C.RESULT])),
    )
    lists: dict[str, list[list[str]]] = {}
    for result in PUBLISHED_LISTS:
        wanted = {_RESULT_CODES[result]}
        if result is Result.unsatisfied:
            wanted.add(C.MOST_UNSATISFIED)
        lists[result.value] = [[unit, section] for _, unit, section, code in rows if code in wanted]
    return lists


def check_publishable(online: OnlineRound, card: Scorecard | None = None) -> None:
    """The named reason (a DomainError) why the final lists cannot be published, if
    there is one: the round not closed; with the scorecard, no online votes in it."""
    if online.status is not RoundStatus.closed:
        raise DomainError("网络评价结束后才能公布评议结果")
    if card is not None and not card.network_held:
        raise DomainError("还没有网络评价票，不能公布评议结果")


def publish(session: Session, online: OnlineRound, *, actor: str, now: datetime | None = None) -> dict[str, list[list[str]]]:
    """Publish the final lists as decided now (publishing again replaces them)."""
    check_publishable(online)
    campaign = online.campaign
    card = campaign_scorecard(session, campaign)
    check_publishable(online, card)
    lists = final_lists(session, campaign, card)
    online.published, online.published_at = lists, now or utcnow()
    session.flush()
    audit.record(session, "online.publish", actor=actor, campaign_id=online.campaign_id,
                 detail={name: len(items) for name, items in lists.items()})
    return lists


def published_years(session: Session) -> list[int]:
    """The years whose final lists are published, newest first (the landing page's links)."""
    return list(session.scalars(
        select(Campaign.year).join(OnlineRound, OnlineRound.campaign_id == Campaign.id)
        .where(OnlineRound.published_at.is_not(None)).order_by(Campaign.year.desc())
    ))


def published_results(session: Session, year: int) -> tuple[Campaign, OnlineRound]:
    """The campaign of `year` and its round, if its results are published."""
    campaign = session.scalar(select(Campaign).where(Campaign.year == year))
    online = online_round(session, campaign) if campaign else None
    if campaign is None or online is None or online.published_at is None or online.published is None:
        raise NotFoundError(f"{year} 年度的评议结果尚未公布。")
    return campaign, online
