"""Data safety's part of the engine: plain Python steps for backups,
restores and upgrades (backup_steps.py) and moves to another database
server (moves.py), the dump and restore commands (backups.py), retention
(retention.py) and restore tests (restore_check.py), and the job kinds that
put them in plans (kinds.py).
"""

from odoo.addons.ipai_tenant_engine.provisioning import spec as engine_spec

# What these steps may record, each a ``_engine_<name>`` method of
# data safety's ipai.tenant.job.
engine_spec.add_hooks(
    "record_backup", "set_resume_state", "needs_rollback", "set_server", "keep_moved_source"
)
