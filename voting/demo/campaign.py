"""The demo campaign: the real 2021 Pingyang section list, a synthetic but plausible
year (history, H1 service-object lists, vote counts, every scoring component and the
online round's votes), two logins. Everything goes through the same
services as real imports, so the demo exercises the real code."""
from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from voting.core.errors import NotFoundError
from voting.components.models import ComponentKind
from voting.staff.models import Role, User
from voting.lists.models import RoundKind, Unit
from voting.core.resources import DATA_DIR
from voting.lists import campaigns, history, objects, sections
from voting.components import components
from voting.scores import scorecards
from voting.staff import users
from voting.demo.synthetic import pingyang_sections, synthetic_year, write_bundle

DEMO_YEAR = 2021
# Names that mark a section as 管理执法类 in the demo (the real list has no such column).
ENFORCEMENT_WORDS = ("执法", "大队", "稽查", "监察", "治安", "交警", "审批", "市场监管")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红海燕玉兰建华文斌晓东丹凤俊杰子涵欣怡浩宇梓萱一诺宇轩雨桐佳怡子轩嘉怡思远晨阳家豪"
COMPANIES = ("平阳县鳌江镇", "平阳县昆阳镇", "平阳县水头镇", "平阳县萧江镇", "平阳县万全镇", "平阳县腾蛟镇", "平阳县南雁镇")
COMPANY_KINDS = ("皮革有限公司", "塑业有限公司", "机械制造有限公司", "建设工程有限公司", "商贸有限公司", "印刷包装有限公司", "餐饮店", "村民委员会", "社区居委会")
TITLES = ("法定代表人", "总经理", "财务负责人", "办事员", "个体户", "村民", "居民", "会计", "项目经理")
MATTERS = (
    "办理{x}审批", "咨询{x}政策", "申请{x}补助", "{x}备案登记", "{x}项目验收", "投诉{x}问题",
    "{x}证照变更", "{x}材料审核", "{x}现场检查", "{x}信息查询",
)
MATTER_TOPICS = ("企业投资", "建设用地", "消防安全", "食品经营", "环境影响", "劳动用工", "社会保险", "不动产", "户籍", "税费")
CASES = ("违反{x}规定行政处罚案", "{x}违法行为处罚案", "未按规定{x}处罚案")
CASE_TOPICS = ("道路交通安全", "市场监督管理", "环境保护", "安全生产", "消防管理", "治安管理", "城市管理")
# Mobile prefixes in service, from the three carriers.
PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
            "155", "156", "157", "158", "159", "166", "173", "176", "177", "180", "181", "182", "183",
            "185", "186", "187", "188", "189", "191", "198", "199")


def synth_objects(rng: random.Random, count: int, penalized: int = 0) -> pd.DataFrame:
    """`count` plausible service objects with distinct phones, the first `penalized`
    of them penalized (with a case name as their matter)."""
    phones: set[str] = set()
    while len(phones) < count:
        phones.add(rng.choice(PREFIXES) + f"{rng.randrange(10**8):08d}")
    rows = []
    for i, phone in enumerate(phones):
        is_penalized = i < penalized
        if is_penalized:
            matter = rng.choice(CASES).format(x=rng.choice(CASE_TOPICS))
        else:
            matter = rng.choice(MATTERS).format(x=rng.choice(MATTER_TOPICS))
        org = rng.choice(COMPANIES) + rng.choice(COMPANY_KINDS)
        rows.append({
            "姓名": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
            "单位(职务)": f"{org}({rng.choice(TITLES)})",
            # Written the ways offices write them: plain, spaced, dashed, +86.
            "手机号码": rng.choice((phone, f"{phone[:3]} {phone[3:7]} {phone[7:]}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}", f"+86{phone}")),
            "事项内容(处罚类案件名称)": matter,
            "是否处罚对象": "是" if is_penalized else "否",
        })
    return pd.DataFrame(rows)


def demo_sections_csv() -> bytes:
    frame = pd.read_csv(DATA_DIR / "pingyang-2021-sections.csv", dtype=str)
    frame["类别"] = [
        "管理执法类" if any(word in name for word in ENFORCEMENT_WORDS) else "" for name in frame["科室"]
    ]
    return frame.to_csv(index=False).encode("utf-8")


def load_bundle(session: Session, campaign, directory: Path, echo: Callable[[str], None] = lambda _: None) -> None:
    """History and every component file of a folder of exchange files (docs/rules.md §6) into `campaign`, through
    the same imports as the pages (the section list must already be in place)."""
    history.import_history(session, campaign, (directory / "history.csv").read_bytes(), "history.csv")
    for kind in ComponentKind:
        path = directory / f"{kind.value}.csv"
        if path.exists():
            summary = components.import_component(session, campaign, kind, path.read_bytes(), path.name)
            echo(f"已导入{kind.label}：{summary.stored} 行")


def prepare_demo(session: Session, echo: Callable[[str], None] = print, seed: int = 2021) -> list[tuple[str, str, str]]:
    """Create the demo campaign once; (re)set the demo logins and return them."""
    rng = random.Random(seed)
    try:
        campaign = campaigns.get_campaign(session, DEMO_YEAR)
        echo(f"演示活动已存在：{campaign.name}")
    except NotFoundError:
        campaign = campaigns.create_campaign(session, DEMO_YEAR)
        listed = sections.parse_sections(demo_sections_csv(), "pingyang-2021-sections.csv")
        sections.apply_sections(session, campaign, listed)
        echo(f"已导入参评科室名单：{len(listed)} 个科室")
        # A whole synthetic year (history, vote counts of H1, H2 and the online round,
        # complaint platforms, supervisor scores, inspections, bonus items) so that
        # every score page has something to show.
        with tempfile.TemporaryDirectory() as folder:
            year = synthetic_year(pingyang_sections(), DEMO_YEAR, seed=seed, network=True)
            write_bundle(year, Path(folder))
            load_bundle(session, campaign, Path(folder), echo)
        # The online round has been held: its candidates are fixed, so a newcomer's
        # votes in a survey round move scores, never the candidate list.
        scorecards.fix_candidates(session, campaign, None)
        statuses = history.section_statuses(session, campaign)
        parts = []
        for row in statuses[~statuses["exempt"]].to_dict("records"):
            count = rng.randint(40, 120) if not row["is_enforcement"] else rng.randint(110, 160)
            penalized = min(count, rng.randint(100, 130)) if row["is_enforcement"] else rng.randint(0, 3)
            part = synth_objects(rng, count, penalized)
            part.insert(0, "科室", row["section"])
            part.insert(0, "单位名称", row["unit"])
            parts.append(part)
        # CSV: writing 30,000 rows as xlsx takes openpyxl half a minute; the reader is the same.
        data = pd.concat(parts).to_csv(index=False).encode("utf-8")
        summary = objects.import_objects(session, campaign, RoundKind.H1, data, "demo-H1.csv")
        echo(f"已导入 H1 服务对象名单：{summary.stored} 人，{len(summary.sections)} 个科室")
    return [
        _reset_login(session, "admin", Role.admin, None),
        _reset_login(session, "liaison-gaj", Role.liaison, _unit(session, campaign.id, "县公安局")),
    ]


def _unit(session: Session, campaign_id: int, name: str) -> Unit:
    return session.scalar(select(Unit).where(Unit.campaign_id == campaign_id, Unit.name == name))


def _reset_login(session: Session, username: str, role: Role, unit: Unit | None) -> tuple[str, str, str]:
    """A fresh password at every demo start, printed once."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        password = users.new_password()
        users.create_user(session, username, password, role, unit)
    else:
        password = users.reset_password(session, user)
        user.active = True
    label = role.label + (f"（{unit.name}）" if unit else "")
    return username, password, label
