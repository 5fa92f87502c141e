"""Set the password of a database's admin user from $IPAI_ADMIN_PASSWORD.

Run with click-odoo, which hands us ``env`` on the target database:
    IPAI_ADMIN_PASSWORD=... click-odoo -c .local/odoo.conf -d DB scripts/set_admin_password.py
The password comes from the environment so it never shows in a process list.
"""

import os
import sys

password = os.environ.get("IPAI_ADMIN_PASSWORD")
if not password:
    sys.exit("IPAI_ADMIN_PASSWORD is not set")
env.ref("base.user_admin").password = password
env.cr.commit()
