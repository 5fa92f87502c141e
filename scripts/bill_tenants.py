"""Bill the tenants for one month, against the platform database.

    bill_tenants.py -c .local/odoo.conf -d ipai_platform [--date YYYY-MM-DD]

Makes one posted customer invoice per billing partner for the month of
--date (default today) and prints what it invoiced. A month is billed once:
a rerun, or a month after the current one, changes nothing and exits 2 with
the reason. The monthly cron does the same (ipai_tenant_billing).
"""

from datetime import date

import click
import click_odoo
from cli_input import Command, fail_input
from odoo.exceptions import UserError, ValidationError


@click.command(cls=Command)
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--date", "day", help="A day of the month to bill (YYYY-MM-DD); default today.")
def main(env, day):
    try:
        parsed = date.fromisoformat(day) if day else None
    except ValueError:
        fail_input(f"'{day}' is not a date (YYYY-MM-DD)")
    try:
        run = env["ipai.billing.run"]._bill(parsed)
    except (UserError, ValidationError) as exc:
        env.cr.rollback()
        fail_input(exc.args[0] if exc.args else exc)
    env.cr.commit()
    click.echo(run._summary())


if __name__ == "__main__":
    main()
