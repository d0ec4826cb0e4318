"""Confirmation before an irreversible step (the office's guard rails).

A button that starts something that cannot be taken back (sending a round's
invitations, closing a round, publishing the results…) never acts on its first POST.
Its page renders it with `confirm_button` (templates/_confirm.html): with JavaScript, a
click opens a dialog that says what will happen, in numbers, and whose own button
posts again with `confirmed=1`; without JavaScript, the first POST answers with the
same words on a confirmation page (`confirm.html`) whose button posts again with
`confirmed=1`. Either way the view acts only on a POST that carries the confirmation
(and, where the step has a consequence to acknowledge, the ticked box):

    confirmation = Confirmation(title=…, facts=[…], button=…, action=url, back=url)
    if (page := ask(confirmation)) is not None:
        return page
    … act, audit, commit …

The facts are worked out again for the confirmation page, so it shows the numbers as
they are when it is asked, not as they were when the first page was drawn.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import render_template, request
from wtforms import BooleanField, HiddenField

from voting.core.forms import Form


@dataclass
class Confirmation:
    title: str  # what the step is, e.g. "开始发送 H1 轮调查"
    facts: list[str]  # what it will do, in numbers, one sentence each
    button: str  # the button that asks (on the page) and the one that confirms
    action: str  # the URL the step posts to
    back: str  # where 取消 leads
    warning: str = ""  # what cannot be undone, said plainly
    acknowledge: str = ""  # when set: a box the office must tick, saying this consequence
    id: str = "confirm"  # the dialog's id on the page (one per button)
    extra: dict[str, str] = field(default_factory=dict)  # hidden fields the step posts along


class ConfirmForm(Form):
    confirmed = HiddenField()
    acknowledged = BooleanField()


def ask(confirmation: Confirmation, form: ConfirmForm | None = None):
    """None when this POST confirms the step; otherwise the confirmation page (200),
    or the page again with the box to tick named (422) when it was left unticked."""
    form = form or ConfirmForm()
    if request.form.get("confirmed") != "1":
        return render_template("confirm.html", c=confirmation, form=form, error=None), 200
    if confirmation.acknowledge and request.form.get("acknowledged") not in ("y", "1", "on", "true"):
        return render_template("confirm.html", c=confirmation, form=form,
                               error="请先勾选确认框，表示您已知道上面所说的后果。"), 422
    return None
