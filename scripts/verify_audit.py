"""Verify the platform's audit trail: exit 0 when intact, 1 naming the first
bad or missing entry.

    click-odoo -c .local/odoo.conf -d ipai_platform scripts/verify_audit.py
"""

import sys

problem = env["ipai.audit.log"].sudo()._verify_chain_message()  # noqa: F821 (click-odoo)
if problem:
    print(f"audit trail BROKEN: {problem}")
    sys.exit(1)
count = env["ipai.audit.log"].sudo().search_count([])  # noqa: F821
print(f"audit trail intact: {count} entries")
