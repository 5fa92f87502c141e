import json
from datetime import date, timedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, new_test_user


class TestPlanLimits(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        internal = cls.env["res.users"].search([("share", "=", False)])
        cls.room = 2
        cls.env["ir.config_parameter"].sudo().set_param("ipai_tenant.plan_name", "Trial")
        cls.env["ir.config_parameter"].sudo().set_param(
            "ipai_tenant.limits",
            json.dumps(
                {
                    "users": len(internal.filtered(lambda u: not u._is_superuser())) + cls.room,
                    "companies": cls.env["res.company"].search_count([]),
                }
            ),
        )

    def test_internal_users_beyond_the_plan_are_refused(self):
        for index in range(self.room):
            new_test_user(self.env, login=f"fits{index}")
        with self.assertRaisesRegex(ValidationError, r"plan Trial allows \d+ internal users"):
            new_test_user(self.env, login="one_too_many")

    def test_portal_users_do_not_count(self):
        made = self.env["res.users"]
        for index in range(self.room + 3):
            made |= new_test_user(self.env, login=f"portal{index}", groups="base.group_portal")
        self.assertEqual(len(made), self.room + 3)
        self.assertTrue(all(user.share for user in made))
        # ...and the room left for internal users is still all there.
        for index in range(self.room):
            new_test_user(self.env, login=f"fits{index}")
        with self.assertRaises(ValidationError):
            new_test_user(self.env, login="one_too_many")

    def test_promoting_a_portal_user_counts(self):
        for index in range(self.room):
            new_test_user(self.env, login=f"fits{index}")
        portal = new_test_user(self.env, login="climber", groups="base.group_portal")
        with self.assertRaises(ValidationError):
            portal.write({"groups_id": [(6, 0, [self.env.ref("base.group_user").id])]})

    def test_companies_beyond_the_plan_are_refused(self):
        with self.assertRaisesRegex(ValidationError, "companies"):
            self.env["res.company"].create({"name": "Second Company"})


class TestPlanStatus(TransactionCase):
    """What the plan indicator of the navbar shows."""

    def _push(self, **params):
        for key, value in params.items():
            self.env["ir.config_parameter"].sudo().set_param(f"ipai_tenant.{key}", value)

    def test_a_trial_shows_its_days_left_and_each_limit_with_its_use(self):
        users = len(self.env["res.users"]._ipai_counted_users())
        trial_end = fields.Date.to_string(date.today() + timedelta(days=5))
        limits = json.dumps({"users": users, "companies": 10})
        self._push(plan="trial", plan_name="Trial", trial_end=trial_end, limits=limits)
        status = self.env["ipai.tenant.settings"].get_plan_status()
        self.assertEqual(status["label"], "Trial: 5 days left")
        self.assertEqual(
            [
                (limit["key"], limit["used"], limit["max"], limit["reached"])
                for limit in status["limits"]
            ],
            [("users", users, users, True), ("companies", 1, 10, False)],
        )
        self.assertTrue(status["warning"], "a limit is reached: the next user is refused")

    def test_a_paid_plan_shows_its_name_and_an_unconfigured_database_nothing(self):
        self._push(plan="starter", plan_name="Starter", trial_end="", limits="{}")
        status = self.env["ipai.tenant.settings"].get_plan_status()
        self.assertEqual(
            (status["label"], status["limits"], status["warning"]), ("Starter", [], False)
        )
        self._push(plan="")
        self.assertEqual(self.env["ipai.tenant.settings"].get_plan_status(), {})
