from odoo import api, fields, models
from odoo.exceptions import ValidationError

ARCHIVE_DAYS_PARAM = "ipai_tenant_billing.archive_after_days"
REMINDER_DAYS_PARAM = "ipai_tenant_billing.dunning_reminder_days"
SUSPEND_DAYS_PARAM = "ipai_tenant_billing.dunning_suspend_days"
DEFAULTS = {ARCHIVE_DAYS_PARAM: 21, REMINDER_DAYS_PARAM: 7, SUSPEND_DAYS_PARAM: 14}
# The archive warning goes out this many days before the archive.
ARCHIVE_WARNING_DAYS = 2
TRIAL_REMINDER_DAYS = (7, 3, 1)


def setting(env, param):
    """An integer setting, its default when unset or unreadable."""
    value = env["ir.config_parameter"].sudo().get_param(param)
    try:
        return int(value) if value not in (None, False, "") else DEFAULTS[param]
    except ValueError:
        return DEFAULTS[param]


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    ipai_archive_after_days = fields.Integer(
        string="Archive after (days suspended)",
        config_parameter=ARCHIVE_DAYS_PARAM,
        default=DEFAULTS[ARCHIVE_DAYS_PARAM],
    )
    ipai_dunning_reminder_days = fields.Integer(
        string="Payment reminder (days after due)",
        config_parameter=REMINDER_DAYS_PARAM,
        default=DEFAULTS[REMINDER_DAYS_PARAM],
    )
    ipai_dunning_suspend_days = fields.Integer(
        string="Suspension for non-payment (days after due)",
        config_parameter=SUSPEND_DAYS_PARAM,
        default=DEFAULTS[SUSPEND_DAYS_PARAM],
    )

    @api.constrains(
        "ipai_archive_after_days", "ipai_dunning_reminder_days", "ipai_dunning_suspend_days"
    )
    def _check_billing_days(self):
        for settings in self:
            if settings.ipai_archive_after_days <= ARCHIVE_WARNING_DAYS:
                raise ValidationError(
                    self.env._(
                        "Archive after must be more than %s days, the warning's notice.",
                        ARCHIVE_WARNING_DAYS,
                    )
                )
            if settings.ipai_dunning_reminder_days < 0:
                raise ValidationError(self.env._("The payment reminder delay cannot be negative."))
            if settings.ipai_dunning_suspend_days <= settings.ipai_dunning_reminder_days:
                raise ValidationError(
                    self.env._("Suspension for non-payment must come after the payment reminder.")
                )
