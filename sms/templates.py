"""SMS templates (docs/rules.md §4.2, mainland delivery): a sender gets a template id and its
parameters, and the free text rendered here for senders that send text (Twilio, the
console). Providers in mainland China send only templates registered with them, so the
ids and parameter names are the contract; the texts follow what such a template may
hold: a 【signature】 first, short, plain, one link or one code.

Parameters are plain strings. Rendering refuses a missing or unexpected parameter (a
message that went out with "{unit}" in it would be worse than one that did not go
out) and strips characters a phone shows as boxes or that could break the line.
"""
from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from sms.tokens import CODE_ALPHABET

INVITE_LINK = "invite_link"
INVITE_CODE = "invite_code"
REMINDER_LINK = "reminder_link"
REMINDER_CODE = "reminder_code"
ONLINE_ACCOUNT = "online_account"  # an online-round evaluator's account and one-time password
ONLINE_REMINDER = "online_reminder"  # an evaluator who has not voted yet: never the password
LIAISON_REMINDER = "liaison_reminder"  # a unit's liaison: what the unit still owes the office, by when
VERIFICATION_CODE = "verification_code"  # a 6-digit code confirming a citizen's phone (the window ratings)
VERIFICATION_VALIDITY = timedelta(minutes=10)  # what its text says: the code is good this long
# A 差评's citizen, once the office closed its case: the address of the page that asks
# whether the handling satisfied them. The fixed part of the address (`address`, the
# same in every message: registered in the template's text with a mainland provider,
# which refuses links in variables) and the token (`token`, the message's own).
FOLLOWUP_VERDICT = "followup_verdict"
# Code mode's invitation and reminder in one SMS (70 characters, the signature included)
# for providers that bill per 70: no reply hint, no matter, the place shortened to fit.
INVITE_CODE_SHORT = "invite_code_short"
REMINDER_CODE_SHORT = "reminder_code_short"
# One SMS holds 70 characters (the 【signature】 included); a longer one goes as parts of
# 67, each billed as one message, that the phone joins again.
SEGMENT = 70
PART = 67
# What a scrubbed secret reads as once its message is sent (see `scrub`).
SCRUBBED = "******"
# An invitation code inside a longer parameter (the reply hint).
_CODE_IN_TEXT = re.compile(f"(?<![0-9A-Z])[{CODE_ALPHABET}]{{8}}(?![0-9A-Z])")


@dataclass(frozen=True)
class Template:
    id: str
    text: str
    # Parameters that must not outlive the send, since they open a vote or a login (a
    # link's token, a code, a password): `scrub` masks them.
    secret: frozenset[str] = frozenset()
    # A message someone is waiting for and that is worth sending only this long after it
    # was asked for (a verification code): the outbox never holds it to the next send
    # window or day, and voids it once it is older (voting/outbox/outbox.py, `prepare`).
    lifetime: timedelta | None = None

    @cached_property
    def params(self) -> frozenset[str]:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.text) if name)


_REPLY = "也可直接回复 1 满意、2 基本满意、3 不满意{reply_hint}。"
# What opens a citizen's vote: the link's token, the code (typed, or replied with).
_VOTE_SECRETS = frozenset({"link", "code", "reply_hint"})
TEMPLATES = {
    t.id: t
    for t in (
        Template(
            INVITE_LINK,
            "【{sign}】您好！您{date}在{unit}{section}办理“{matter}”，请为服务打分 {link} "
            + _REPLY + "{closes}截止，每人一次，不收取费用。",
            secret=_VOTE_SECRETS,
        ),
        Template(
            INVITE_CODE,
            "【{sign}】您好！您{date}在{unit}{section}办理“{matter}”，请打开 {address} 输入评价码 {code} 为服务打分。"
            + _REPLY + "{closes}截止，每人一次，不收取费用。",
            secret=_VOTE_SECRETS,
        ),
        Template(
            REMINDER_LINK,
            "【{sign}】提醒：您对{unit}{section}的服务评价尚未完成，{closes}截止 {link} " + _REPLY,
            secret=_VOTE_SECRETS,
        ),
        Template(
            REMINDER_CODE,
            "【{sign}】提醒：您对{unit}{section}的服务评价尚未完成，{closes}截止。请打开 {address} 输入评价码 {code}。"
            + _REPLY,
            secret=_VOTE_SECRETS,
        ),
        Template(
            INVITE_CODE_SHORT,
            "【{sign}】请评价{place}服务：{address} 评价码{code}，{closes}止",
            secret=frozenset({"code"}),
        ),
        Template(
            REMINDER_CODE_SHORT,
            "【{sign}】提醒：请评价{place}服务：{address} 评价码{code}，{closes}止",
            secret=frozenset({"code"}),
        ),
        Template(
            ONLINE_ACCOUNT,
            "【{sign}】您受邀参加{year}年度千人评议网络评价，请于{closes}前登录 {link} 账号 {login} 密码 {password}"
            "（仅限本人使用，投票后失效，请勿转告他人）。",
            secret=frozenset({"password"}),
        ),
        Template(
            ONLINE_REMINDER,
            "【{sign}】提醒：您的{year}年度千人评议网络评价尚未完成，{closes}截止。"
            "请登录 {link} 账号 {login}，密码见此前的短信。",
        ),
        Template(
            LIAISON_REMINDER,
            "【{sign}】{unit}联络员您好：{what}尚有{missing}，{due}截止。请登录 {link} 办理。",
        ),
        Template(
            VERIFICATION_CODE,
            "【{sign}】您的验证码为{code}，10分钟内有效，请勿告诉他人。",
            secret=frozenset({"code"}),
            lifetime=VERIFICATION_VALIDITY,
        ),
        Template(
            FOLLOWUP_VERDICT,
            "【{sign}】您对{place}提出的意见已办理完毕，请打开 {address}{token} 评价处理结果是否满意，有效期至{closes}。",
            secret=frozenset({"token"}),
        ),
    )
}
# Control characters, and the format characters a phone would show as boxes.
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# A matter copied from a case file can be long; an SMS over 70 Chinese characters is
# split into parts that cost extra and may arrive out of order.
MATTER_MAX = 24


class TemplateError(ValueError):
    """A message that cannot be rendered; the message names the parameters."""


def clean(value: str) -> str:
    return _UNSHOWABLE.sub("", str(value)).strip()


def shorten(value: str, most: int = MATTER_MAX) -> str:
    value = clean(value)
    return value if len(value) <= most else value[: most - 1] + "…"


def segments(text: str) -> int:
    """How many messages a carrier bills for `text`."""
    return 1 if len(text) <= SEGMENT else -(-len(text) // PART)


_BRACKETED = re.compile(r"[（(][^（()）]*[)）]")


def places(unit: str, section: str) -> list[str]:
    """Ways to name where a citizen was served, longest first: the unit and the section;
    without the section's bracketed other names ("综合科(平阳县非税收入收缴中心)"); the
    section alone when it names itself ("县社会救助综合服务中心", "平阳县…")."""
    unit, section = clean(unit), clean(section)
    bare = _BRACKETED.sub("", section).strip() or section
    found = [unit + section, unit + bare]
    if bare.startswith(("县", "平阳县")) and bare != section:
        found.append(bare)
    return list(dict.fromkeys(found))


def fit(template_id: str, params: Mapping[str, str], unit: str, section: str, most: int = SEGMENT) -> dict[str, str]:
    """`params` with a `place` that keeps the rendered message within `most`
    characters: the longest of `places` that fits, else the shortest cut with "…"
    (never below the unit's name and two characters of the section's, so the message
    still says where; it may then run over, and go as two parts)."""
    options = places(unit, section)
    for place in options:
        if len(render(template_id, {**params, "place": place})) <= most:
            return {**params, "place": place}
    shortest = options[-1]
    room = most - len(render(template_id, {**params, "place": ""}))
    least = len(clean(unit)) + 3 if shortest.startswith(clean(unit)) else 3
    return {**params, "place": shorten(shortest, max(room, least))}


def render(template_id: str, params: Mapping[str, str]) -> str:
    """The free text of a template with its parameters."""
    template = TEMPLATES.get(template_id)
    if template is None:
        raise TemplateError(f"没有短信模板 {template_id}")
    given = set(params)
    missing = sorted(template.params - given)
    extra = sorted(given - template.params)
    if missing or extra:
        parts = []
        if missing:
            parts.append("缺少参数 " + "、".join(missing))
        if extra:
            parts.append("多余参数 " + "、".join(extra))
        raise TemplateError(f"短信模板 {template_id}：" + "；".join(parts))
    values = {name: shorten(value) if name == "matter" else clean(value) for name, value in params.items()}
    return template.text.format(**values)


def mask(name: str, value: str) -> str:
    """A secret parameter as the office may still see it: where a link pointed but not
    its token, a reply hint without its code, anything else as SCRUBBED."""
    if name == "link":
        base, slash, _token = str(value).rpartition("/")
        return f"{base}/{SCRUBBED}" if slash else SCRUBBED
    if name == "reply_hint":
        return _CODE_IN_TEXT.sub(SCRUBBED, str(value))
    return SCRUBBED


def scrub(template_id: str, params: Mapping[str, str]) -> tuple[dict[str, str], str] | None:
    """The parameters and text of a message with its secret parameters masked, or None
    when its template has none (or is unknown): what an outbox row keeps once the
    message is sent or has failed for good, so that no stored copy opens a vote or a
    login."""
    template = TEMPLATES.get(template_id)
    if template is None or not template.secret:
        return None
    kept = {name: mask(name, value) if name in template.secret else value for name, value in params.items()}
    try:
        return kept, render(template_id, kept)
    except TemplateError:  # a row that never rendered: keep no text rather than the secret
        return kept, ""
