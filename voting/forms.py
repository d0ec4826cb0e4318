"""The base form: WTForms' own Chinese messages for its built-in validators."""
from flask_wtf import FlaskForm


class Form(FlaskForm):
    class Meta:
        locales = ("zh_CN", "zh")


class EmptyForm(Form):
    """A POST-only form that carries nothing but its CSRF token."""
