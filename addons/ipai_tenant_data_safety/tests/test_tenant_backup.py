import os
import shutil
import tempfile
from datetime import date, datetime, timedelta

from odoo.addons.ipai_platform_rules import naming
from odoo.addons.ipai_tenant_core.tests.common import TenantCase
from odoo.addons.ipai_tenant_engine.provisioning import operations
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..provisioning import backup_steps, retention

# docs/backups.md works this example through: a backup every day at 02:00
# since 2025-10-01, every 6 hours on 2026-11-26, pruned at 13:00 that day.
NOW = datetime(2026, 11, 26, 13, 0)
EXPECTED = {
    # 7 days: today's newest and the six days before
    datetime(2026, 11, 26, 12, 0),
    *(datetime(2026, 11, day, 2, 0) for day in range(20, 26)),
    # 4 ISO weeks: this week's (today's) and the Sundays of the three before
    # (Nov 22 is already kept as a daily one)
    datetime(2026, 11, 15, 2, 0),
    datetime(2026, 11, 8, 2, 0),
    # 12 months: this month's (today's) and the last day of the eleven before
    *(
        datetime(year, month, day, 2, 0)
        for year, month, day in (
            (2025, 12, 31),
            (2026, 1, 31),
            (2026, 2, 28),
            (2026, 3, 31),
            (2026, 4, 30),
            (2026, 5, 31),
            (2026, 6, 30),
            (2026, 7, 31),
            (2026, 8, 31),
            (2026, 9, 30),
            (2026, 10, 31),
        )
    ),
}


def worked_example():
    taken = []
    day = date(2025, 10, 1)
    while day <= date(2026, 11, 25):
        taken.append(datetime(day.year, day.month, day.day, 2, 0))
        day += timedelta(days=1)
    taken += [datetime(2026, 11, 26, hour, 0) for hour in (0, 6, 12)]
    return taken


@tagged("post_install", "-at_install")
class TestRetention(TenantCase):
    def test_the_worked_example_keeps_exactly_what_the_docs_say(self):
        taken = worked_example()
        kept = retention.to_keep([(when, when) for when in taken], NOW)
        self.assertEqual(len(taken), 424)
        self.assertEqual(kept, EXPECTED)
        self.assertEqual(len(kept), 20)

    def test_a_period_without_backups_keeps_nothing_older_in_its_place(self):
        # Backups on Nov 1 and Nov 26 only: the 7 daily slots hold one.
        taken = [datetime(2026, 11, 1, 2, 0), datetime(2026, 11, 26, 2, 0)]
        kept = retention.to_keep(
            [(when, when) for when in taken], NOW, daily=7, weekly=0, monthly=0
        )
        self.assertEqual(kept, {datetime(2026, 11, 26, 2, 0)})

    def test_the_newest_backup_is_kept_whatever_its_age(self):
        old = datetime(2020, 1, 1)
        self.assertEqual(retention.to_keep([("only", old)], NOW), {"only"})
        self.assertEqual(retention.to_keep([], NOW), set())

    def test_manual_backups_are_kept_by_their_own_age(self):
        week_old, old = NOW - timedelta(days=7), NOW - timedelta(days=91)
        self.assertTrue(retention.manual_kept(week_old, NOW, 90))
        self.assertFalse(retention.manual_kept(old, NOW, 90))
        self.assertTrue(retention.manual_kept(old, NOW, 0))  # 0: always
        # An archived tenant's: as long as its other backups at least.
        self.assertTrue(retention.manual_kept(old, NOW, 90, NOW - timedelta(days=365)))
        self.assertFalse(retention.manual_kept(old, NOW, 90, NOW - timedelta(days=30)))

    def test_prune_removes_files_and_records_together(self):
        tenant = self.make_tenant("keep")
        tenant._set_state_from_engine("provisioning")
        tenant._set_state_from_engine("active")
        archived = self.make_tenant("gone")
        root = tempfile.mkdtemp(prefix="ipai-retention-")
        self.addCleanup(shutil.rmtree, root, True)
        records = self.env["ipai.tenant.backup"]
        for when in worked_example():
            records |= self._backup(tenant, when, root)
        old = self._backup(archived, datetime(2025, 10, 1, 2, 0), root)
        recent = self._backup(archived, datetime(2026, 11, 1, 2, 0), root)
        archived._set_state_from_engine("archived")
        # A backup an open restore is using is never pruned.
        in_use = records.filtered(lambda b: b.backup_date == datetime(2026, 1, 15, 2, 0))
        self.env["ipai.tenant.job"].sudo().create(
            {
                "tenant_id": tenant.id,
                "job_type": "restore",
                "params": {"backup_id": in_use.id, "mode": "in_place"},
            }
        )

        folders = {backup.id: backup.folder for backup in records}
        pruned = records._cron_prune_backups(limit=1000, now=NOW)

        remaining = self.env["ipai.tenant.backup"].search([("tenant_id", "=", tenant.id)])
        self.assertEqual(set(remaining.mapped("backup_date")), EXPECTED | {in_use.backup_date})
        self.assertEqual(pruned, 424 - 21 + 1)
        for backup_id, folder in folders.items():
            self.assertEqual(os.path.isdir(folder), backup_id in remaining.ids)
        # An archived tenant's backups are kept 12 months by default.
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists())

    def _backup(self, tenant, when, root):
        folder = os.path.join(root, tenant.code, when.strftime("%Y%m%d-%H%M"))
        os.makedirs(folder)
        return (
            self.env["ipai.tenant.backup"]
            .sudo()
            .create(
                {
                    "tenant_id": tenant.id,
                    "kind": "scheduled",
                    "backup_date": when,
                    "folder": folder,
                    "dump_sha256": "0" * 64,
                    "filestore_sha256": "0" * 64,
                }
            )
        )


@tagged("post_install", "-at_install")
class TestBackupSchedule(TenantCase):
    def test_only_due_tenants_are_queued_the_longest_waiting_first_up_to_the_limit(self):
        now = datetime.now()
        tenants = {}
        for code, last in (("fresh", 1), ("never", None), ("stale", 30)):
            tenant = self.make_tenant(code)
            tenant._set_state_from_engine("provisioning")
            tenant._set_state_from_engine("active")
            if last is not None:
                self.env["ipai.tenant.backup"].sudo().create(
                    {
                        "tenant_id": tenant.id,
                        "kind": "scheduled",
                        "backup_date": now - timedelta(hours=last),
                        "folder": f"/nonexistent/{code}",
                        "dump_sha256": "0" * 64,
                        "filestore_sha256": "0" * 64,
                    }
                )
            tenants[code] = tenant
        self.plan_trial.backup_interval_hours = 24
        others = self.env["ipai.tenant"].search(
            [("id", "not in", [t.id for t in tenants.values()])]
        )
        others.plan_id.backup_interval_hours = 0  # the seed tenants stay out of it
        self.plan_trial.backup_interval_hours = 24
        Backup = self.env["ipai.tenant.backup"]

        self.assertEqual(Backup._cron_schedule_backups(limit=1), 1)
        self.assertEqual(tenants["never"].job_ids.mapped("job_type"), ["backup"])
        self.assertEqual(tenants["never"].job_ids.params, {"kind": "scheduled"})
        self.assertFalse(tenants["stale"].job_ids)

        self.assertEqual(Backup._cron_schedule_backups(limit=5), 1)
        self.assertEqual(tenants["stale"].job_ids.mapped("job_type"), ["backup"])
        self.assertFalse(tenants["fresh"].job_ids)
        # A tenant with an open job is left for a later call.
        self.assertEqual(Backup._cron_schedule_backups(limit=5), 0)


@tagged("post_install", "-at_install")
class TestRestoreRequests(TenantCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.source = cls.make_tenant("source")
        cls.source._set_state_from_engine("provisioning")
        cls.source._set_state_from_engine("active")
        cls.backup = (
            cls.env["ipai.tenant.backup"]
            .sudo()
            .create(
                {
                    "tenant_id": cls.source.id,
                    "kind": "manual",
                    "backup_date": datetime(2026, 11, 1),
                    "folder": "/nonexistent",
                    "dump_sha256": "0" * 64,
                    "filestore_sha256": "0" * 64,
                }
            )
        )

    def test_a_cancelled_restore_into_a_new_tenant_goes_back_to_draft(self):
        target = self.make_tenant("copy")
        jobs = self.env["ipai.tenant.job"].with_user(self.manager)
        job = jobs._enqueue(target, "restore", {"backup_id": self.backup.id, "mode": "new"})
        target._set_state_from_engine("provisioning")
        job.with_user(self.manager).action_cancel()
        self.assertEqual((job.state, target.state), ("cancelled", "draft"))

    def test_a_backup_goes_in_place_only_onto_its_own_tenant(self):
        other = self.make_tenant("other")
        other._set_state_from_engine("provisioning")
        other._set_state_from_engine("active")
        jobs = self.env["ipai.tenant.job"].with_user(self.manager)
        with self.assertRaisesRegex(UserError, "only onto its own tenant"):
            jobs._enqueue(other, "restore", {"backup_id": self.backup.id, "mode": "in_place"})
        with self.assertRaisesRegex(UserError, "no backup with that reference"):
            jobs._enqueue(other, "restore", {"backup_id": self.backup.id + 999, "mode": "new"})
        self.assertFalse(other.job_ids)

    def test_missing_files_are_refused_before_a_job_is_queued(self):
        wizard = (
            self.env["ipai.tenant.restore"]
            .with_user(self.manager)
            .create({"backup_id": self.backup.id, "mode": "new", "code": "fresh-copy"})
        )
        with self.assertRaisesRegex(UserError, "is missing"):
            wizard.action_restore()
        self.assertFalse(self.env["ipai.tenant"].search([("code", "=", "fresh-copy")]))

    def test_only_manual_backups_and_platform_upgrades_can_be_requested(self):
        jobs = self.env["ipai.tenant.job"].with_user(self.manager)
        with self.assertRaisesRegex(UserError, "Only manual backups"):
            jobs._enqueue(self.source, "backup", {"kind": "pre_upgrade"})
        provider = self.make_tenant("prov", tenant_type="provider", parent_id=self.platform.id)
        user = self.make_provider_manager("provider_manager", provider)
        client = self.make_tenant("client", parent_id=provider.id)
        client._set_state_from_engine("provisioning")
        client._set_state_from_engine("active")
        with self.assertRaisesRegex(AccessError, "Only platform managers"):
            self.env["ipai.tenant.job"].with_user(user)._enqueue(client, "upgrade", {})
        self.assertFalse(client.job_ids)


class TestDataSafetyKinds(TenantCase):
    def test_the_database_knows_data_safetys_kinds_and_archive_backs_up_first(self):
        kinds = self.env["ipai.tenant.job"]._job_kinds()
        self.assertLessEqual({"backup", "restore", "upgrade"}, set(kinds))
        self.assertEqual(kinds["archive"].steps()[0][0], "backup")
        self.assertEqual(
            [name for name, *_rest in kinds["archive"].steps()[1:]],
            [name for name, *_rest in operations.KINDS["archive"].steps()],
        )

    def test_scratch_names_fit_postgres_limits(self):
        longest = naming.database_name("a" + "b" * 29, prefix="x" * 33)
        scratch, replaced = backup_steps.scratch_name(longest), backup_steps.replaced_name(longest)
        self.assertEqual((len(scratch), len(replaced)), (63, 63))
        self.assertNotEqual(scratch, replaced)
        self.assertTrue(scratch.endswith("_restoring"))
        self.assertEqual(backup_steps.scratch_name("odoo_acme"), "odoo_acme_restoring")
