"""axe-core (the npm package, run in Chromium) on the public pages: the script found, a
phone-sized page to load them in, and a checker that runs axe on each page a test
visits and reports every violation of every page at the end.

axe.min.js comes from $PINGYI_AXE, by default .ci/node/node_modules/axe-core/axe.min.js
(.ci/run installs it there: npm install --prefix .ci/node axe-core@4). The public pages
send a Content-Security-Policy without inline scripts, so the script is not added as a
<script> tag: it is evaluated through Playwright (the DevTools protocol), which the
page's policy does not govern, and the page itself stays exactly as served.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import missing
from tests.support.browser import TIMEOUT_MS, shot

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("PINGYI_AXE", ROOT / ".ci/node/node_modules/axe-core/axe.min.js"))
# WCAG 2.0 and 2.1, levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = (320, 360)
HEIGHT = 640

# Runs in the page: axe's result cut down to what a failure message needs.
RUN = """async tags => {
    const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary})),
    }));
}"""


def axe_source() -> str:
    if not AXE.exists():
        missing(f"axe-core is not installed at {AXE} (npm install --prefix .ci/node axe-core@4, or set PINGYI_AXE)")
    return AXE.read_text(encoding="utf-8")


def phone_page(browser, base_url: str, width: int):
    """A touch phone `width` pixels wide with JavaScript on, in a fresh context (no cookies)."""
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": HEIGHT}, locale="zh-CN",
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


@dataclass
class Axe:
    """Runs axe on the page as it stands (`check`), keeping each page's violations;
    `assert_clean` fails with all of them, so that one run shows everything to fix."""

    source: str
    width: int
    found: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def check(self, page, name: str) -> None:
        """axe on the page as it stands, called `name` in the report (and, with
        $PINGYI_SCREENSHOTS set, in its screenshot's file name)."""
        page.wait_for_load_state("load")  # the page's deferred scripts have run
        shot(page, "a11y-" + re.sub(r"\W+", "-", name).strip("-"), widths=(self.width,))
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(self.source)
        violations = page.evaluate(RUN, WCAG_AA)
        self.checked.append(name)
        where = f"{name} ({page.url}, {self.width} px)"
        # Reflow (WCAG 1.4.10), which axe does not check: nothing wider than the screen.
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > self.width:
            self.found.append(f"{where}: reflow (WCAG 1.4.10): the page is {wide} px wide and scrolls sideways")
        for violation in violations:
            lines = [f"{where}: {violation['id']} [{violation['impact']}] {violation['help']} ({violation['helpUrl']})"]
            for node in violation["nodes"]:
                lines.append(f"    at {node['target']}: {node['html'][:300]}")
                lines += [f"        {line}" for line in (node["summary"] or "").splitlines()]
            self.found.append("\n".join(lines))

    def assert_clean(self) -> None:
        assert self.checked, "no page was checked"
        assert not self.found, (f"{len(self.found)} WCAG 2.1 AA violation(s) (axe-core's, and reflow) on "
                                f"{len(self.checked)} page(s) checked:\n" + "\n".join(self.found))
