"""Fields that only their owning code sets take no value from the context.

Odoo fills every field a ``create`` leaves out from the caller's context
(``default_<field>`` keys) *after* the model's own checks on ``vals`` ran, and
any JSON-RPC caller chooses its context. So a check on ``vals`` alone lets a
provider store a tenant already "active" on another customer's database, or
a custom domain already "verified". Models list the fields whose context
defaults are ignored for the current caller (``_guarded_fields``); their own
checks then look at the stored record after ``create``, which is where every
path (form, RPC, import, wizard, API, command line) ends.

Only context defaults are dropped: a field's own default and the ``ir.default``
values (which only settings administrators write) still apply, and the
superuser (the engine, the command line) keeps every default.
"""

from odoo import api, models

DEFAULT_PREFIX = "default_"


class IpaiGuardedDefaultsMixin(models.AbstractModel):
    _name = "ipai.guarded.defaults.mixin"
    _description = "Ignores context defaults for fields the caller may not set"

    def _guarded_fields(self):
        """Names of the fields whose ``default_*`` context keys this caller
        may not use. Extended by each model (and per caller: a platform
        manager may set what a provider may not)."""
        return set()

    def _without_guarded_defaults(self):
        """This recordset with the guarded ``default_*`` keys taken out of
        its context (itself when there are none)."""
        if self.env.su:
            return self
        blocked = {DEFAULT_PREFIX + name for name in self._guarded_fields()}
        if not blocked & set(self.env.context):
            return self
        # Replacing the context is the point: keys can only be removed so.
        return self.with_context(  # pylint: disable=context-overridden
            {key: value for key, value in self.env.context.items() if key not in blocked}
        )

    @api.model
    def default_get(self, fields_list):
        return super(IpaiGuardedDefaultsMixin, self._without_guarded_defaults()).default_get(
            fields_list
        )
