"""A tenant on the enterprise plan (inventory included) ships an order and
prints its delivery slip through the tenant runtime, as a warehouse clerk's
"Print > Delivery Slip" does: the slip holds the transfer's reference, the
customer and its address, the product and quantity, and the tenant's
company (name and address) from the layout's header."""

from .support import provision, tenant_login
from .test_documents import pdf_text, print_pdf

CODE = "docs-stock"


def test_a_validated_delivery_prints_its_slip(cli, tenant_server, credentials_dir):
    provision(cli, CODE, "--plan", "enterprise", "--name", "Oakline Furniture")
    rpc = tenant_login(tenant_server, CODE, credentials_dir)
    [user] = rpc.call("res.users", "read", [rpc.uid], ["company_id"])
    rpc.call(
        "res.company",
        "write",
        [user["company_id"][0]],
        {"street": "3 Timber Road", "zip": "4000", "city": "Liège"},
    )
    customer = rpc.call(
        "res.partner",
        "create",
        {"name": "Initech LLC", "street": "4120 Freidrich Lane", "city": "Austin"},
    )
    product = rpc.call(
        "product.product",
        "create",
        {"name": "Oak standing desk", "type": "consu", "is_storable": True, "list_price": 450},
    )
    [warehouse] = rpc.call("stock.warehouse", "search_read", [], ["lot_stock_id"], limit=1)
    quant = rpc.call(
        "stock.quant",
        "create",
        {
            "product_id": product,
            "location_id": warehouse["lot_stock_id"][0],
            "inventory_quantity": 10,
        },
    )
    rpc.call("stock.quant", "action_apply_inventory", [quant])
    order = rpc.call(
        "sale.order",
        "create",
        {
            "partner_id": customer,
            "order_line": [(0, 0, {"product_id": product, "product_uom_qty": 3})],
        },
    )
    rpc.call("sale.order", "action_confirm", [order])
    [sale] = rpc.call("sale.order", "read", [order], ["picking_ids", "name"])
    [picking] = sale["picking_ids"]
    rpc.call("stock.picking", "button_validate", [picking])
    [delivery] = rpc.call("stock.picking", "read", [picking], ["name", "state"])
    assert delivery["state"] == "done", delivery

    text = pdf_text(print_pdf(rpc, "stock.report_deliveryslip", picking))
    for expected in (
        delivery["name"],
        "Initech LLC",
        "4120 Freidrich Lane",
        "Oak standing desk",
        "3.00",
        "Oakline Furniture",
        "3 Timber Road",
    ):
        assert expected in text, f"{expected!r} missing from the delivery slip:\n{text}"
    assert delivery["name"].startswith("WH/OUT/"), delivery
