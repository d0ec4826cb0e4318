"""An online round built through the real services, for the evaluator tests: a fixed
candidate list of a few ordinary sections with their service-object lists, the round,
representatives imported from a file, service objects sampled, and the accounts issued
(the one-time passwords read from the outbox before anything is sent)."""
from __future__ import annotations

import random
from datetime import time, timedelta

import pandas as pd
from sqlalchemy import select

from scoring import columns as C
from voting.demo.campaign import synth_objects
from voting.survey.links import wording
from voting.online.models import Candidate, Evaluator, OnlineRound
from voting.outbox.models import OutboxMessage
from voting.lists.models import RoundKind
from voting.core.models import utcnow
from voting.online import evaluators
from voting.lists import history, objects
from voting.outbox.outbox import DispatchSettings

PUBLIC_URL = "https://pingyi.example.cn"
KINDS = ("两代表一委员", "基层干部", "民营企业家", "特约监察员", "营商环境监督员")
# Any time, no cap, for every message (the campaign's own 08:00-21:00 window would hold
# messages back when the tests run at night).
ANY_TIME = DispatchSettings(window_start=time(0, 0), window_end=time(0, 0), daily_cap=0, campaign_limits=False)


def rep_phone(i: int) -> str:
    """A representative's phone: 147…, a range the synthetic service objects never use."""
    return f"147{i:08d}"


def reps_frame(count: int, start: int = 0) -> pd.DataFrame:
    """`count` representatives, the five categories in turn, phones written as offices do."""
    rows = []
    for i in range(start, start + count):
        phone = rep_phone(i)
        written = (phone, f"+86 {phone}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}")[i % 3]
        rows.append({"姓名": f"代表{i}", "类别": KINDS[i % len(KINDS)], "手机号码": written})
    return pd.DataFrame(rows)


def csv_of(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def fix_candidates(db, campaign, sections: int = 3, skip: int = 0) -> list[dict]:
    """The first `sections` ordinary sections (after `skip`) as the fixed candidate list."""
    statuses = history.section_statuses(db, campaign)
    chosen = statuses[~statuses["is_enforcement"] & ~statuses[C.EXEMPT]].iloc[skip:skip + sections]
    db.add_all(Candidate(section_id=int(r["id"]), campaign_id=campaign.id, list=C.SATISFIED_CANDIDATE)
               for r in chosen.to_dict("records"))
    db.commit()
    return chosen.to_dict("records")


def upload_lists(db, campaign, sections: list[dict], per_section: int, seed: int = 4) -> None:
    rng = random.Random(seed)
    parts = []
    for row in sections:
        part = synth_objects(rng, per_section)
        part.insert(0, "科室", row["section"])
        part.insert(0, "单位名称", row["unit"])
        parts.append(part)
    objects.import_objects(db, campaign, RoundKind.H1, csv_of(pd.concat(parts)), "objects.csv")
    db.commit()


def make_round(db, campaign, *, sections: int = 3, per_section: int = 20, seed: int = 11) -> OnlineRound:
    """A draft round over `sections` candidate sections with lists, nobody in the pool."""
    chosen = fix_candidates(db, campaign, sections)
    upload_lists(db, campaign, chosen, per_section)
    online = evaluators.create_round(db, campaign, utcnow() + timedelta(days=7), seed=seed)
    db.commit()
    return online


def pooled_round(db, campaign, *, reps: int = 7, per_section: int = 20, seed: int = 11) -> OnlineRound:
    """A draft round with `reps` representatives and its service objects sampled."""
    online = make_round(db, campaign, per_section=per_section, seed=seed)
    evaluators.import_representatives(db, online, csv_of(reps_frame(reps)), "reps.csv")
    evaluators.sample_service_objects(db, online)
    db.commit()
    return online


def issue(app, db, online: OnlineRound) -> dict[str, str]:
    """Issue every account; each login's password, read from its outbox row."""
    evaluators.issue_accounts(db, online, wording(app, PUBLIC_URL))
    db.commit()
    return passwords(db, online)


def passwords(db, online: OnlineRound) -> dict[str, str]:
    """Each login's password as its latest SMS (still in the outbox) carries it."""
    db.expire_all()
    rows = db.execute(
        select(Evaluator.login, OutboxMessage.params)
        .join(OutboxMessage, Evaluator.message_id == OutboxMessage.id).where(Evaluator.round_id == online.id)
    ).all()
    return {login: params["password"] for login, params in rows}


def pool_of(db, online: OnlineRound) -> list[Evaluator]:
    db.expire_all()
    return list(db.scalars(select(Evaluator).where(Evaluator.round_id == online.id).order_by(Evaluator.id)))
