"""The mainland providers as a county configures them, for the tests: each provider's
loopback fake (tests/support/fake_aliyun.py, fake_tencent.py) started with registered
templates, and the environment that points the platform's sender at it
(PINGYI_SMS_SENDER and the provider's variables, as the README gives them)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from sms.mainland import INVITATION, REMINDER, template_variable
from tests.support.fake_aliyun import FakeAliyun
from tests.support.fake_tencent import FakeTencent
from voting.outbox.outbox import DispatchSettings

SIGN = "平阳县评议办"
SECRET = "callback-secret-" + "x" * 24
VARIABLES = ("unit", "section", "code", "closes")
PER_SECTION = 130  # two sections: 260 invitations, more than one Alibaba SendBatchSms call (100)
# Any time of day, no cap, for every message (the campaign's own window would hold them at night).
ANY_TIME = {"window_start": DispatchSettings().window_start.replace(hour=0),
            "window_end": DispatchSettings().window_end.replace(hour=0), "daily_cap": 0, "campaign_limits": False}


@dataclass
class Provider:
    name: str
    fake: FakeAliyun | FakeTencent
    env: dict[str, str]

    def accepted(self) -> list[tuple[str, dict[str, str]]]:
        """(number, the template's values by name) of every message the fake accepted."""
        if isinstance(self.fake, FakeAliyun):
            return [(m.phone, dict(m.params)) for m in self.fake.accepted]
        return [(m.phone, dict(zip(VARIABLES, m.params))) for m in self.fake.accepted]

    def send_calls(self) -> int:
        """The send requests the fake answered."""
        actions = {"SendSms", "SendBatchSms"}
        return sum(1 for r in self.fake.requests if r.action in actions)


def _aliyun() -> Provider:
    fake = FakeAliyun(sign_names=(SIGN,), templates={"SMS_460755001": VARIABLES, "SMS_460755002": VARIABLES})
    env = {
        "PINGYI_SMS_SENDER": "aliyun", "ALIBABA_CLOUD_ACCESS_KEY_ID": fake.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": fake.access_key_secret,
        template_variable(INVITATION): "SMS_460755001:" + ",".join(VARIABLES),
        template_variable(REMINDER): "SMS_460755002:" + ",".join(VARIABLES),
    }
    return Provider("aliyun", fake, env)


def _tencent() -> Provider:
    fake = FakeTencent(secret_id="AKIDpingyitest", secret_key="tencent test key", sdk_app_id="1400787878",
                       sign_name=SIGN, templates={"1843201": 4, "1843202": 4})
    env = {
        "PINGYI_SMS_SENDER": "tencent", "TENCENTCLOUD_SECRET_ID": fake.secret_id,
        "TENCENTCLOUD_SECRET_KEY": fake.secret_key, "PINGYI_TENCENT_SMS_APP_ID": fake.sdk_app_id,
        template_variable(INVITATION): "1843201:" + ",".join(VARIABLES),
        template_variable(REMINDER): "1843202:" + ",".join(VARIABLES),
    }
    return Provider("tencent", fake, env)


@pytest.fixture(params=["aliyun", "tencent"])
def provider(request):
    made = {"aliyun": _aliyun, "tencent": _tencent}[request.param]()
    with made.fake:
        endpoint = "PINGYI_ALIYUN_ENDPOINT" if made.name == "aliyun" else "PINGYI_TENCENT_ENDPOINT"
        made.env.update({endpoint: "http://" + made.fake.endpoint, "FLASK_SMS_SIGN": SIGN,
                         "PINGYI_SMS_CALLBACK_SECRET": SECRET})
        yield made


