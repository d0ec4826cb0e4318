"""A campaign with planted list-integrity faults (tests/integrity): 2021 with seven
sections of four units, each with an H1 list of 25 service objects numbered ten apart
(no runs, no shared numbers, distinct names), and 2020 with the same names, and these
faults, each worked by hand in the tests:

- a staff phone (县甲局's liaison, 13811112222) in 县甲局 一科's list, row 27;
- 13622223333 in four sections of three units (县甲局 二科, 县乙局 一科, 县乙局 二科, 县丙局 一科), row 27;
- 县丙局 二科's list is 2020's list of 县丙局 二科 (25 of 25 numbers);
- a run of six: 15800000001 … 15800000006 in 县丁局 一科, rows 27 to 32;
- 张三 seven times in 县乙局 二科 (rows 2 to 8 renamed);
- 12 web votes of 县乙局 一科 from 203.0.113.0/24 within 5 minutes; 12 of 县甲局 一科 from one
  network spread over 11 hours; 12 of 县甲局 二科 from 12 networks within one minute.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from voting.commitments.models import StaffContact, StaffRole
from voting.core.vault import vault_of
from voting.lists.models import Campaign, ObjectImport, RoundKind, Section, SectionList, ServiceObject, Unit
from voting.lists import campaigns
from voting.survey.models import Channel, Choice, Invitation, RoundStatus, SurveyRound, Vote
from voting.survey.votes import vote_network

T0 = datetime(2021, 6, 1, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
UNITS = {"县甲局": ["一科", "二科"], "县乙局": ["一科", "二科"], "县丙局": ["一科", "二科"], "县丁局": ["一科"]}
STAFF_PHONE = "13811112222"
SHARED_PHONE = "13622223333"
SHARED_IN = [("县甲局", "二科"), ("县乙局", "一科"), ("县乙局", "二科"), ("县丙局", "一科")]
RUN = [f"1580000{i:04d}" for i in range(1, 7)]
LIST_SIZE = 25


def base_phone(index: int, i: int) -> str:
    """The i-th ordinary number of the index-th section: tails ten apart."""
    return f"139{index:02d}00{10 * i:04d}"


@dataclass
class Planted:
    campaign: Campaign
    earlier: Campaign
    sections: dict[tuple[str, str], int]  # (unit, section) → id, 2021
    units: dict[str, int]
    round_id: int
    phones: list[str] = field(default_factory=list)  # every number listed, for the page's search


def _campaign(db, year: int) -> tuple[Campaign, dict[tuple[str, str], Section], dict[str, Unit]]:
    campaign = campaigns.create_campaign(db, year)
    sections, units = {}, {}
    for n, (unit_name, names) in enumerate(UNITS.items(), start=1):
        unit = Unit(campaign_id=campaign.id, number=n, name=unit_name)
        db.add(unit)
        db.flush()
        units[unit_name] = unit
        for m, name in enumerate(names, start=1):
            sections[(unit_name, name)] = Section(unit_id=unit.id, number=m, name=name)
            db.add(sections[(unit_name, name)])
    db.flush()
    return campaign, sections, units


def _list(db, campaign: Campaign, section: Section, rows: list[tuple[str, str]]) -> list[ServiceObject]:
    upload = ObjectImport(campaign_id=campaign.id, round=RoundKind.H1, filename="objects.csv", rows_read=len(rows),
                          stored=len(rows), duplicates=0)
    db.add(upload)
    db.flush()
    objects = [ServiceObject(section_id=section.id, round=RoundKind.H1, import_id=upload.id, name=name, phone=phone,
                             matter="办理业务", source_row=row) for row, (name, phone) in enumerate(rows, start=2)]
    db.add_all(objects)
    db.add(SectionList(section_id=section.id, round=RoundKind.H1, import_id=upload.id, objects=len(rows), penalized=0))
    db.flush()
    return objects


def plant(db) -> Planted:
    earlier, old_sections, _ = _campaign(db, 2020)
    campaign, sections, units = _campaign(db, 2021)
    lists: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for index, key in enumerate(sections, start=1):
        lists[key] = [(f"居民{index}-{i}", base_phone(index, i)) for i in range(LIST_SIZE)]
    copied = ("县丙局", "二科")
    for index, key in enumerate(old_sections, start=1):  # 2020: other numbers, but the copied section's
        rows = lists[key] if key == copied else [(f"旧{index}-{i}", f"137{index:02d}00{10 * i:04d}") for i in range(LIST_SIZE)]
        _list(db, earlier, old_sections[key], rows)
    lists[("县甲局", "一科")] += [("李工", STAFF_PHONE)]  # row 27
    for key in SHARED_IN:
        lists[key] = lists[key] + [("王五", SHARED_PHONE)]
    lists[("县丁局", "一科")] += [(f"赵{i}", phone) for i, phone in enumerate(RUN)]
    lists[("县乙局", "二科")] = [("张三", phone) if i < 7 else (name, phone)
                                for i, (name, phone) in enumerate(lists[("县乙局", "二科")])]
    objects = {key: _list(db, campaign, sections[key], rows) for key, rows in lists.items()}
    db.add(StaffContact(unit_id=units["县甲局"].id, section_id=sections[("县甲局", "一科")].id, role=StaffRole.liaison,
                        name="李工", phone=STAFF_PHONE))
    db.add(StaffContact(unit_id=units["县乙局"].id, role=StaffRole.leader, name="钱局长", phone="13899990000"))
    survey = SurveyRound(campaign_id=campaign.id, kind=RoundKind.H1, status=RoundStatus.open, sample_size=LIST_SIZE,
                         seed=1, closes_at=T0 + timedelta(days=30), opened_at=T0)
    db.add(survey)
    db.flush()
    vault = vault_of(db)

    def vote(key: tuple[str, str], i: int, address: str, minutes: float, choice: Choice = Choice.satisfied) -> None:
        target = objects[key][i]
        invitation = Invitation(round_id=survey.id, section_id=target.section_id, service_object_id=target.id,
                                phone=target.phone, nonce=f"{target.id:032d}")
        db.add(invitation)
        db.flush()
        db.add(Vote(invitation_id=invitation.id, round_id=survey.id, section_id=target.section_id, choice=choice,
                    channel=Channel.link, network=vote_network(vault, address),
                    created_at=T0 + timedelta(minutes=minutes)))

    for i in range(12):  # 09:00 to 09:05, one /24
        vote(("县乙局", "一科"), i, f"203.0.113.{10 + i}", i * 5 / 11, Choice.satisfied if i < 10 else Choice.basic)
        vote(("县甲局", "一科"), i, "198.51.100.7", i * 60)  # every hour, 09:00 to 20:00
        vote(("县甲局", "二科"), i, f"192.0.{i}.1", i * 5 / 60)  # twelve networks, one minute
    db.commit()
    return Planted(campaign, earlier, {key: s.id for key, s in sections.items()},
                   {name: u.id for name, u in units.items()}, survey.id,
                   sorted({phone for rows in lists.values() for _, phone in rows}))
