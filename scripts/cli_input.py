"""What every operator command does with bad input: one line on stderr,
``error: ...``, exit 2, and nothing changed (the checks run before any
write). The commands import it as a sibling module (tenants.py, api_key.py,
bill_tenants.py, verify_audit.py).

Click reports a missing option, a value of the wrong type or out of range,
or an unknown option as a usage block of four lines (exit 2); these
commands report it in one line instead, through ``OneLineErrors``.
"""

import sys

import click

BAD_INPUT = 2


def fail_input(message):
    """Refuse: ``error: <message>`` on stderr, exit 2. Raised as SystemExit,
    which click_odoo lets through (it turns other exceptions into exit 1)."""
    click.echo(f"error: {one_line(message)}", err=True)
    sys.exit(BAD_INPUT)


def one_line(text):
    """The first non-empty line of ``text`` (a PostgreSQL or Odoo message may
    carry a detail or a hint on further lines)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


class OneLineErrors:
    """Mixed into a click command or group: its usage errors in one line,
    exit 2; other click errors (a database that cannot be reached) in one
    line with their own code."""

    def main(self, *args, standalone_mode=True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as exc:
            fail_input(exc.format_message())
        except click.ClickException as exc:
            click.echo(f"error: {one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        # --help and the like end here with their exit code (the commands
        # themselves return nothing, or exit on their own).
        if isinstance(code, int) and not isinstance(code, bool):
            sys.exit(code)
        return code


class Command(OneLineErrors, click.Command):
    pass


class NonEmpty(click.ParamType):
    """Text that is not blank: `make suspend-tenant` without CODE passes
    ``--code ""``, which names nothing."""

    name = "text"

    def convert(self, value, param, ctx):
        if not str(value).strip():
            self.fail("must not be empty.", param, ctx)
        return str(value).strip()


class WholeNumber(click.IntRange):
    """click.IntRange, named so that "abc" is "not a valid integer"."""

    name = "integer"


class Number(click.FloatRange):
    name = "number"


NON_EMPTY = NonEmpty()
# Record ids start at 1: 0 or a negative number names nothing.
RECORD_ID = WholeNumber(min=1)
PORT = WholeNumber(1, 65535)
POSITIVE = WholeNumber(min=1)
NOT_NEGATIVE = WholeNumber(min=0)
HOURS = Number(min=0)
