"""Make a REST API key for a user of the platform database.

    api_key.py -c .local/odoo.conf -d ipai_platform --login alice
               [--name "n8n"] [--days 90] [--rate-limit 0]

Prints the key once (it is stored hashed and never shown again), its expiry
and the user it acts as. Run as the platform's operator (superuser), so any
active internal user may get a key. Exit 2 on bad input, nothing changed.
"""

import click
import click_odoo
from cli_input import NON_EMPTY, NOT_NEGATIVE, Command, fail_input
from odoo.exceptions import UserError, ValidationError


@click.command(cls=Command)
@click_odoo.env_options(default_log_level="warn", with_rollback=False)
@click.option("--login", required=True, type=NON_EMPTY, help="The user the key acts as.")
@click.option(
    "--name", default="command line", show_default=True, type=NON_EMPTY, help="What it is for."
)
@click.option(
    "--days", default=90, show_default=True, type=NOT_NEGATIVE, help="Validity; 0: never expires."
)
@click.option(
    "--rate-limit",
    default=0,
    show_default=True,
    type=NOT_NEGATIVE,
    help="Requests/minute; 0: plan's.",
)
def main(env, login, name, days, rate_limit):
    user = env["res.users"].search([("login", "=", login)], limit=1)
    if not user:
        fail_input(f"no user with login '{login}'")
    try:
        key, plain = env["ipai.api.key"]._generate(user, name, days=days, rate_limit=rate_limit)
    except (UserError, ValidationError) as exc:
        env.cr.rollback()
        fail_input(exc.args[0] if exc.args else exc)
    env.cr.commit()
    expiry = key.expires_at.isoformat() + "Z" if key.expires_at else "never"
    click.echo(f"API key for {login} (expires {expiry}); shown once, keep it now:")
    click.echo(plain)


if __name__ == "__main__":
    main()
