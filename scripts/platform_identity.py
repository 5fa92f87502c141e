"""Give a new platform database's company a name and a sender address.

Odoo names it "My Company", without an e-mail: the platform's mails (the
welcome mail, invoices, reminders) would come from OdooBot. The name comes
from $IPAI_PLATFORM_NAME (default "ipai"), the address from
$IPAI_PLATFORM_EMAIL (default platform@localhost, which `make run`'s mail
catcher takes). A company someone already renamed is left as it is.

Run with click-odoo, which hands us ``env`` on the target database:
    click-odoo -c .local/odoo.conf -d DB scripts/platform_identity.py
"""

import os

company = env.ref("base.main_company")
if company.name == "My Company":
    company.write(
        {
            "name": os.environ.get("IPAI_PLATFORM_NAME") or "ipai",
            "email": os.environ.get("IPAI_PLATFORM_EMAIL") or "platform@localhost",
        }
    )
    env.cr.commit()
    print(f"platform company: {company.name} <{company.email}>")
