"""A newcomer's click-through of the quick start's demo, in headless Chromium against
the real `pingyi demo` process: log in, set up and open a survey round (a background
job, run by the demo's own job worker), see the SMS on the outbox page (the demo's own
dispatch worker sends them to the console), open a citizen's link on a phone-sized
screen and vote; the score pages still answer."""
from __future__ import annotations

import time

import pytest

from tests.support.browser import new_page
from tests.demo.test_demo import running_demo

pytestmark = pytest.mark.browser


def test_a_newcomer_runs_a_round_and_votes_as_a_citizen(browser, tmp_path):
    with running_demo(tmp_path) as (base, password, _):
        office = new_page(browser, base)
        office.goto("/login")
        office.fill("#username", "admin")
        office.fill("#password", password)
        with office.expect_navigation():
            office.click("form.panel button[type=submit]")
        office.goto("/office/rounds/")
        office.fill("#sample_size", "2")
        with office.expect_navigation():
            office.click("form.panel button[type=submit]")
        # The start asks first, in a dialog that says what it will send.
        office.click("text=开始发送：抽样并发出邀请短信")
        dialog = office.locator("#confirm-open")
        assert "条邀请短信" in dialog.inner_text()
        if dialog.locator("input[name=acknowledged]").count():
            dialog.locator("input[name=acknowledged]").check()
        with office.expect_navigation():
            dialog.locator("button:has-text('确认')").click()
        # The job's page: the demo's own job worker opens the round, the page's script
        # follows it and shows the outcome.
        assert "/office/jobs/" in office.url
        assert "份邀请" in office.wait_for_selector("#job-message.info", timeout=60_000).inner_text()

        deadline = time.monotonic() + 60
        while True:  # the demo's worker sends within seconds
            office.goto("/office/outbox")
            links = office.locator("#console-messages a")
            if links.count():
                break
            assert time.monotonic() < deadline, "no SMS reached the outbox page"
            time.sleep(1)
        assert "****" in office.locator("#console-messages td").nth(1).inner_text()  # phones masked
        link = links.first.get_attribute("href")

        citizen = new_page(browser, base, width=360, height=640)
        citizen.goto(link)
        assert citizen.url.endswith("/v")  # the token left the address bar
        citizen.check("input[value=satisfied]")
        with citizen.expect_navigation():
            citizen.click("button[type=submit]")
        assert "感谢" in citizen.locator("h1").inner_text()
        citizen.goto(link)
        assert "已经评价" in citizen.content()

        response = office.goto("/office/scores/")
        assert response.status == 200
        office.context.close()
        citizen.context.close()
