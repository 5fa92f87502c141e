"""Name the nodes of a cell, as the platform probes them (the status page)
and the operator reads them on the cell's form: `make run` names its own.

    IPAI_CELL_CODE=main IPAI_CELL_NODES="127.0.0.1:8070 127.0.0.1:8170" \\
        click-odoo -c .local/odoo.conf -d ipai_platform scripts/cell_nodes.py
"""

import os

code = os.environ.get("IPAI_CELL_CODE") or "main"
nodes = "\n".join(os.environ.get("IPAI_CELL_NODES", "").split())
cell = env["ipai.tenant.cell"].search([("code", "=", code)])
if not cell:
    raise SystemExit(f"cell-nodes: no cell {code!r}")
if nodes and cell.node_addresses != nodes:
    cell.node_addresses = nodes
    env.cr.commit()
    print(f"cell {code}: nodes {', '.join(nodes.split())}")
