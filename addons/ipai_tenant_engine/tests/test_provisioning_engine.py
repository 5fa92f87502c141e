"""The engine's plain-Python parts: failure classes, backoff, plans, names."""

import psycopg2
from odoo.addons.ipai_platform_rules import naming
from odoo.addons.ipai_tenant_core.infra.errors import (
    PermanentError,
    RetryableError,
    WaitingError,
    is_transient,
)
from odoo.tests import BaseCase, TransactionCase
from psycopg2 import errorcodes

from ..provisioning import operations, runner


class FixedRandom:
    """``random`` with uniform() pinned, for exact backoff figures."""

    def __init__(self, factor):
        self.factor = factor

    def uniform(self, _low, _high):
        return self.factor


class FakePgError(psycopg2.OperationalError):
    def __init__(self, pgcode):
        super().__init__("simulated")
        self._pgcode = pgcode

    @property
    def pgcode(self):
        return self._pgcode


class TestProvisioningEngine(BaseCase):
    def test_transient_failures_are_told_apart_from_permanent_ones(self):
        for code in (
            errorcodes.SERIALIZATION_FAILURE,
            errorcodes.LOCK_NOT_AVAILABLE,
            errorcodes.QUERY_CANCELED,
            errorcodes.OBJECT_IN_USE,
        ):
            self.assertTrue(is_transient(FakePgError(code)), code)
        self.assertTrue(is_transient(FakePgError(None)), "lost connection")
        self.assertTrue(is_transient(RetryableError("later")))
        self.assertFalse(is_transient(PermanentError("never")))
        self.assertFalse(is_transient(FakePgError(errorcodes.UNDEFINED_TABLE)))
        self.assertFalse(is_transient(ValueError("bug")))

    def test_backoff_is_exponential_capped_and_jittered(self):
        middle = FixedRandom(1.0)
        delays = [runner.backoff_seconds(attempt, middle) for attempt in range(1, 12)]
        self.assertEqual(delays[:4], [5, 10, 20, 40])
        self.assertEqual(max(delays), runner.MAX_BACKOFF_SECONDS)
        self.assertEqual(delays, sorted(delays))
        # Spread over +-50 %: jobs failing on the same outage come back apart.
        self.assertEqual(runner.backoff_seconds(3, FixedRandom(0.5)), 10)
        self.assertEqual(runner.backoff_seconds(3, FixedRandom(1.5)), 30)
        spread = {round(runner.backoff_seconds(3), 3) for _ in range(20)}
        self.assertGreater(len(spread), 1)
        self.assertTrue(all(10 <= delay <= 30 for delay in spread))

    def test_waiting_for_a_template_is_a_retry_that_is_not_a_failure(self):
        wait = WaitingError("template being built", retry_in=3)
        self.assertTrue(is_transient(wait))
        self.assertEqual(wait.retry_in, 3)

    def test_pool_member_names_never_match_a_tenant(self):
        database = naming.pool_database_name("a1b2c3a1b2c3")
        role = naming.pool_role_name("a1b2c3a1b2c3")
        for code in ("pool", "pool-a1b2c3", "a1b2c3"):
            self.assertNotEqual(naming.database_name(code), database)
            self.assertNotEqual(naming.runtime_role_name(code), role)
        self.assertTrue(naming.code_problem("_pool_a1b2c3"))
        self.assertEqual(naming.pool_token(database), "a1b2c3a1b2c3")
        self.assertIsNone(naming.pool_token(naming.database_name("pool-a1b2c3")))
        self.assertEqual(
            next(name for name, *_rest in operations.KINDS["create"].steps({"pooled": True})),
            "adopt_pool_member",
        )

    def test_names_never_exceed_postgres_limits(self):
        code = "a" + "b" * 29
        self.assertLessEqual(len(naming.database_name(code).encode()), 63)
        self.assertLessEqual(len(naming.role_name(code).encode()), 63)
        with self.assertRaises(ValueError):
            naming.database_name(code, prefix="x" * 40)
        self.assertEqual(len(naming.database_name(code, prefix="x" * 33)), 63)


class TestJobKinds(TransactionCase):
    def test_every_job_type_has_a_plan_of_known_steps(self):
        """Every kind this database knows (the engine's and its addons')."""
        kinds = self.env["ipai.tenant.job"]._job_kinds()
        selection = dict(self.env["ipai.tenant.job"]._fields["job_type"].selection)
        self.assertEqual(set(kinds), set(selection))
        for kind in kinds.values():
            for plan_name, steps in kind.plans.items():
                names = [name for name, _label, _function in steps]
                self.assertEqual(len(names), len(set(names)), plan_name)
                self.assertTrue(all(callable(function) for *_named, function in steps))
        self.assertNotIn(
            "ensure_template",
            [name for name, *_rest in kinds["clone"].steps({"with_data": True})],
        )


class TestEngineConnections(BaseCase):
    def test_engine_connections_carry_lock_and_statement_timeouts(self):
        from odoo.addons.ipai_tenant_core.infra import pg
        from odoo.tools import config

        server = pg.Server(
            host=config["db_host"] or None,
            port=config["db_port"] or None,
            user=config["db_user"],
            password=config["db_password"] or None,
        )
        self.assertEqual(server.execute("SHOW lock_timeout"), [("30s",)])
        self.assertEqual(server.execute("SHOW statement_timeout"), [("15min",)])
