from odoo import models

FAIL_PARAM = "ipai_test_upgrade_fail.fail"
COUNT_PARAM = "ipai_test_upgrade_fail.loads"


class IpaiTestUpgradeProbe(models.AbstractModel):
    """Odoo calls ``init()`` when this module is installed or updated: each
    call is counted in a parameter, so a test sees whether an update went
    through, and a database whose administrator set FAIL_PARAM refuses it."""

    _name = "ipai.test.upgrade.probe"
    _description = "Upgrade probe (tests only)"
    _auto = False

    def init(self):
        cr = self.env.cr
        cr.execute("SELECT value FROM ir_config_parameter WHERE key = %s", [FAIL_PARAM])
        row = cr.fetchone()
        if row and row[0] == "1":
            raise RuntimeError("ipai_test_upgrade_fail: this tenant's upgrade is made to fail")
        cr.execute(
            """INSERT INTO ir_config_parameter (key, value) VALUES (%s, '1')
               ON CONFLICT (key) DO UPDATE
                  SET value = (ir_config_parameter.value::int + 1)::varchar""",
            [COUNT_PARAM],
        )
