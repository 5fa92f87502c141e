"""Text the platform takes from users holds no control character.

A NUL byte would only fail deep in PostgreSQL (an internal error), a line
break or escape sequence in a code, host name or e-mail ends up in logs,
headers and configuration files. Refused with a validation message on every
ORM path (forms, RPC, import, the command line), before anything is written.
"""

import re

from odoo import api, models
from odoo.exceptions import ValidationError

# Char fields: none at all; multi-line text keeps tabs and line breaks.
CONTROL_IN_LINE = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class IpaiTextInputMixin(models.AbstractModel):
    _name = "ipai.text.input.mixin"
    _description = "Refuses control characters in text input"

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_text_input(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._check_text_input(vals)
        return super().write(vals)

    def _check_text_input(self, vals):
        for name, value in vals.items():
            field = self._fields.get(name)
            if field is None or not isinstance(value, str):
                continue
            pattern = CONTROL_IN_TEXT if field.type in ("text", "html") else CONTROL_IN_LINE
            if pattern.search(value):
                raise ValidationError(
                    self.env._(
                        "%s: control characters (a NUL byte, a line break, an escape "
                        "sequence...) are not allowed.",
                        field.string,
                    )
                )
