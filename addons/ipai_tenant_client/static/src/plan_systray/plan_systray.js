/** @odoo-module **/
// The workspace's plan in the navbar: its name (and a trial's days left),
// and on click each limit with its use. Read from the settings the platform
// pushes into this database (ipai.tenant.settings.get_plan_status).

import { Component, onWillStart, useState } from "@odoo/owl";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

export class PlanSystray extends Component {
    static template = "ipai_tenant_client.PlanSystray";
    static components = { Dropdown };
    static props = {};

    setup() {
        this.orm = useService("orm");
        this.state = useState({ status: {} });
        onWillStart(async () => {
            this.state.status = await this.orm.call("ipai.tenant.settings", "get_plan_status", []);
        });
    }
}

registry
    .category("systray")
    .add("ipai_tenant_client.plan", { Component: PlanSystray }, { sequence: 90 });
