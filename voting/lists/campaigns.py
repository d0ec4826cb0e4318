"""Campaigns: one a year."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring.settings import RuleSettings
from voting.core.errors import DomainError, NotFoundError
from voting.lists.models import Campaign
from voting.audit import audit


class CampaignExistsError(DomainError):
    status = 409


def create_campaign(
    session: Session, year: int, name: str | None = None, settings: RuleSettings | None = None
) -> Campaign:
    if not 2000 <= year <= 2100:
        raise DomainError(f"年度 {year} 不在 2000–2100 之间")
    if session.scalar(select(Campaign).where(Campaign.year == year)):
        raise CampaignExistsError(f"{year} 年度的评议活动已存在")
    campaign = Campaign(
        year=year,
        name=name or f"{year}年度千人评机关中层科室活动",
        settings=(settings or RuleSettings()).to_dict(),
    )
    session.add(campaign)
    session.flush()
    return campaign


def get_campaign(session: Session, year: int | None = None) -> Campaign:
    """The campaign of `year`, or the latest one."""
    query = select(Campaign)
    query = query.where(Campaign.year == year) if year else query.order_by(Campaign.year.desc())
    campaign = session.scalars(query.limit(1)).first()
    if campaign is None:
        if year:
            raise NotFoundError(f"没有 {year} 年度的评议活动")
        raise NotFoundError("还没有评议活动：请先用 pingyi campaign create 年度 建立")
    return campaign


def years(session: Session) -> list[tuple[int, int]]:
    """(id, year) of every campaign, the latest year first."""
    return [(cid, year) for cid, year in session.execute(select(Campaign.id, Campaign.year)
                                                         .order_by(Campaign.year.desc()))]


def year_of(session: Session, campaign_id: int | None) -> int | None:
    """The year of the campaign with this id (None for none)."""
    if campaign_id is None:
        return None
    return session.scalar(select(Campaign.year).where(Campaign.id == campaign_id))


def change_settings(
    session: Session, campaign: Campaign, changes: dict[str, str], *, actor: str = "system"
) -> RuleSettings:
    """Change some of a campaign's settings (every number of the rules, the SMS window
    and cap); each value is checked as the setting's type, and nothing changes if any
    is refused. Changing the scoring rules rescores the campaign on every page."""
    merged = {**campaign.settings, **changes}
    try:
        rules = RuleSettings.from_dict(merged)
    except (TypeError, ValueError) as error:
        raise DomainError(f"设置无效：{error}") from None
    before, after = campaign.settings, rules.to_dict()
    campaign.settings = after
    session.flush()
    changed = {name: {"from": before.get(name), "to": after[name]} for name in after if before.get(name) != after[name]}
    if changed:
        audit.record(session, "campaign.settings", actor=actor, campaign_id=campaign.id, detail={"changes": changed})
    return rules
