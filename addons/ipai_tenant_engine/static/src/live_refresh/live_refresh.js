import { Component, onMounted, onWillUnmount } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

/**
 * Keeps a form live while the provisioning engine works on its record: as
 * long as the record's `is_busy` field is set, it reloads the record (and so
 * its steps, progress and state) every POLL_MS, unless the user is editing.
 */
const POLL_MS = 1500;

export class LiveRefresh extends Component {
    static template = "ipai_tenant_engine.LiveRefresh";
    static props = { ...standardWidgetProps };

    setup() {
        onMounted(() => {
            this.timer = setInterval(() => this.refresh(), POLL_MS);
        });
        onWillUnmount(() => clearInterval(this.timer));
    }

    async refresh() {
        const record = this.props.record;
        if (!record.data.is_busy || record.isNew || (await record.isDirty())) {
            return;
        }
        await record.load();
    }
}

registry.category("view_widgets").add("ipai_live_refresh", { component: LiveRefresh });
