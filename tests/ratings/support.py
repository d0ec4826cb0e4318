"""What the ratings tests share: a section and a window to rate."""
from __future__ import annotations

from voting.lists import campaigns
from voting.lists.models import Section, Unit
from voting.schemes.models import AssessedEntity, Assessment


def places(db) -> tuple[Section, AssessedEntity]:
    """A section of the 2021 campaign and a window of a window assessment."""
    campaign = campaigns.create_campaign(db, 2021)
    unit = Unit(campaign_id=campaign.id, name="县发改局", number=1)
    section = Section(unit=unit, name="价格科", number=1)
    assessment = Assessment(name="本中心考核", scheme_text="", scheme_source="builtin:jinjiang", created_by="admin")
    db.add_all([unit, section, assessment])
    db.flush()
    window = AssessedEntity(assessment_id=assessment.id, name="公安局窗口", group_id="g1", kind="window", position=1)
    db.add(window)
    db.commit()
    return section, window
