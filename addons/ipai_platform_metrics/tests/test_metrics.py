from odoo.tests import TransactionCase, tagged
from prometheus_client.parser import text_string_to_metric_families

from ..metrics import TOKEN_PARAM, ensure_token, exposition, token_matches


def _samples(env):
    found = {}
    for family in text_string_to_metric_families(exposition(env).decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


@tagged("post_install", "-at_install")
class TestMetrics(TransactionCase):
    def test_the_token_is_made_at_install_and_compared_whole(self):
        params = self.env["ir.config_parameter"].sudo()
        token = params.get_param(TOKEN_PARAM)
        self.assertGreaterEqual(len(token), 40)
        self.assertTrue(token_matches(self.env, token))
        for wrong in ("", token[:-1], token + "x", "é" * len(token)):
            self.assertFalse(token_matches(self.env, wrong), wrong)
        ensure_token(self.env)
        self.assertEqual(params.get_param(TOKEN_PARAM), token, "kept once made")
        params.set_param(TOKEN_PARAM, "")
        self.assertFalse(token_matches(self.env, ""), "no token: nothing matches")

    def test_zeros_are_written_and_a_new_tenant_is_counted(self):
        plan = self.env.ref("ipai_tenant_core.plan_trial")
        key = ("ipai_tenants", frozenset({("state", "draft"), ("plan", plan.code)}))
        before = _samples(self.env)
        self.env["ipai.tenant"].create(
            {"code": "metrics-unit", "name": "Metrics unit", "plan_id": plan.id}
        )
        after = _samples(self.env)
        self.assertEqual(after[key], before[key] + 1)
        # Every job kind, those of other addons included, in every state.
        for kind in ("create", "backup"):
            for state in ("queued", "running", "done", "failed", "cancelled"):
                labels = frozenset({("kind", kind), ("state", state)})
                self.assertIn(("ipai_jobs", labels), after)
        self.assertEqual(after[("ipai_job_queue_oldest_age_seconds", frozenset())], 0)
