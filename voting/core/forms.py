"""The base form: WTForms' own Chinese messages for its built-in validators; the
number field every form uses; and the field for a choice from a long list, typed."""
from __future__ import annotations

import re
import unicodedata

from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import IntegerField, StringField
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import TextInput

from voting.core.numbers import not_a_number, whole_number


class Form(FlaskForm):
    class Meta:
        locales = ("zh_CN", "zh")


class EmptyForm(Form):
    """A POST-only form that carries nothing but its CSRF token."""


class WholeNumberField(IntegerField):
    """An integer field read as voting.core.numbers reads every number from outside (ASCII
    digits, no sign, at most INT_MAX), where IntegerField's int() takes "٣" and "１２".
    Empty is None without a message of its own: the field's validators say what is
    missing (请填写…)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        text = valuelist[0]
        self.data = whole_number(text)
        if self.data is None and text != "":
            raise ValueError(not_a_number(self.label.text))

    def pre_validate(self, form: FlaskForm) -> None:
        # Not a number: that message alone. DataRequired would put its 请填写… in its
        # place (it clears the field's errors), NumberRange add a range beside it.
        if self.process_errors:
            raise StopValidation()


class DatalistInput(TextInput):
    """A text box that offers its field's labels in a <datalist>: the browser's own
    search over a long list as the user types, without JavaScript."""

    def __call__(self, field: LabelField, **kwargs) -> Markup:
        listed = f"{field.id}-labels"
        kwargs.setdefault("list", listed)
        kwargs.setdefault("autocomplete", "off")
        options = Markup("").join(Markup('<option value="{}">').format(label) for label in field.options.values())
        return super().__call__(field, **kwargs) + Markup('<datalist id="{}">{}</datalist>').format(listed, options)


LABEL_PARTS = " · "  # between the parts of a label: "县发改局 · 价格科"
_NOT_IN_KEY = re.compile(r"[\s·・•\-—/|]+")
SHOWN_TYPED = 50  # characters of what was typed repeated in a message
SHOWN_LABELS = 5  # labels named in a message


def _key(text: str) -> str:
    """The comparable form of a label: width folded (NFKC), case folded, without
    spaces or the separators people type between a unit and a section."""
    return _NOT_IN_KEY.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _named(labels: list[str]) -> str:
    more = " 等" if len(labels) > SHOWN_LABELS else ""
    return "、".join(f"“{label}”" for label in labels[:SHOWN_LABELS]) + more


class LabelField(StringField):
    """One of a long list (a county's 363 sections) typed as its label, where a
    <select> would hold hundreds of options: the page offers every label in a
    <datalist> (DatalistInput), and `resolve` finds the one typed, on the server. Set
    `options` ({value: label}, labels in parts joined by LABEL_PARTS) before the form
    is rendered or validated; `noun` names what is chosen in the messages."""

    widget = DatalistInput()

    def __init__(self, label: str | None = None, validators=None, noun: str = "项", **kwargs) -> None:
        super().__init__(label, validators, **kwargs)
        self.noun = noun
        self.options: dict[int, str] = {}

    def resolve(self) -> int | None:
        """The value whose label was typed (spaces, width, case and separators aside),
        or whose label's last part it is when no other label ends so ("价格科" for
        "县发改局 · 价格科"); None when nothing was typed. Anything else is refused
        naming what was typed: a name nothing has (with the labels that contain it),
        or one that several have."""
        typed = (self.data or "").strip()
        if not typed:
            return None
        key = _key(typed)
        found = [value for value, label in self.options.items() if _key(label) == key]
        if not found:
            found = [value for value, label in self.options.items() if _key(label.rsplit(LABEL_PARTS, 1)[-1]) == key]
        if len(found) == 1:
            return found[0]
        shown = typed if len(typed) <= SHOWN_TYPED else typed[:SHOWN_TYPED] + "…"
        if found:
            raise ValidationError(f"“{shown}”对应 {len(found)} 个{self.noun}：{_named([self.options[v] for v in found])}。"
                                  f"请输入完整的名称，如“{self.options[found[0]]}”。")
        near = [label for label in self.options.values() if key and key in _key(label)]
        hint = f"名称中含“{shown}”的有：{_named(near)}。" if near else "请从输入框的列表中选择，或检查名称的写法。"
        raise ValidationError(f"没有名为“{shown}”的{self.noun}。{hint}")
