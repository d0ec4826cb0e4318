"""The base form: WTForms' own Chinese messages for its built-in validators; and the
number field every form uses."""
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import StopValidation

from voting.numbers import not_a_number, whole_number


class Form(FlaskForm):
    class Meta:
        locales = ("zh_CN", "zh")


class EmptyForm(Form):
    """A POST-only form that carries nothing but its CSRF token."""


class WholeNumberField(IntegerField):
    """An integer field read as voting.numbers reads every number from outside (ASCII
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
