#!/usr/bin/env python3
"""Print what a node of cell CELL holds, as environment lines:

    IPAI_CELL=<code>
    IPAI_CELL_SECRET=<the cell's secret, derived from the master>
    IPAI_MAIL_GATEWAY_KEY=<the key of the cell's inbound mail gateway>

Run on the control plane (it holds IPAI_RUNTIME_SECRET, the master; a
node never does): `make cell-env CELL=main`. Give the two lines to every
node of that cell (its .env, or the orchestrator's secret store), and the
third to the cell's mail gateway only (scripts/mail_gateway.py)."""

import importlib.util
import os
import sys

ADDONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "addons")


def runtime_credentials():
    """ipai_tenant_runtime/credentials.py, loaded as a file (no Odoo needed)."""
    spec = importlib.util.spec_from_file_location(
        "ipai_runtime_credentials", os.path.join(ADDONS, "ipai_tenant_runtime", "credentials.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bad_input(message):
    """One line and exit 2, as every operator command refuses bad input."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv):
    if len(argv) != 2 or not argv[1].strip():
        bad_input("usage: cell_env.py CELL (make cell-env CELL=main)")
    credentials = runtime_credentials()
    try:
        secret = credentials.cell_secret(argv[1])
        mail_key = credentials.mail_gateway_key(argv[1])
    except ValueError as error:  # not a cell code
        bad_input(f"cell-env: {error}")
    except credentials.MissingRuntimeSecret as error:
        sys.exit(f"error: cell-env: {error}")
    print(f"{credentials.CELL_VARIABLE}={argv[1]}")
    print(f"{credentials.CELL_SECRET_VARIABLE}={secret}")
    print(f"IPAI_MAIL_GATEWAY_KEY={mail_key}")


if __name__ == "__main__":
    main(sys.argv)
