/* global supersetEmbeddedSdk */
import { Component, onMounted, onWillUnmount, useRef, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

/**
 * One Superset dashboard, embedded with the official SDK. Odoo hands out the
 * guest tokens (/ipai_bi/dashboard/<id>/guest_token); the SDK asks for a new
 * one shortly before the current one expires, and Odoo's cache answers it
 * without calling Superset while the cached token has time left.
 */
export class BiDashboard extends Component {
    static template = "ipai_bi_superset_embed.Dashboard";
    static props = { ...standardActionServiceProps };

    setup() {
        this.mountPoint = useRef("mountPoint");
        this.state = useState({ loading: true, error: null });
        this.dashboardId = this.props.action.params?.dashboard_id;
        onMounted(() => this.embed());
        onWillUnmount(() => this.embedded?.unmount());
    }

    async fetchGuestToken() {
        const response = await fetch(`/ipai_bi/dashboard/${this.dashboardId}/guest_token`, {
            credentials: "same-origin",
            headers: { Accept: "application/json" },
        });
        let payload = {};
        try {
            payload = await response.json();
        } catch {
            // Not JSON (a proxy error page): the status says enough.
        }
        if (!response.ok) {
            throw new Error(
                payload.error || _t("The dashboard cannot be shown (HTTP %s).", response.status)
            );
        }
        if (response.redirected || !payload.token) {
            // An ended session is sent to the login page: HTTP 200, HTML.
            throw new Error(_t("Your session has ended; reload the page to sign in again."));
        }
        return payload;
    }

    async embed() {
        try {
            const first = await this.fetchGuestToken();
            let initialToken = first.token;
            this.embedded = await supersetEmbeddedSdk.embedDashboard({
                id: first.embedded_uuid,
                supersetDomain: first.superset_url,
                mountPoint: this.mountPoint.el,
                fetchGuestToken: async () => {
                    if (initialToken) {
                        const token = initialToken;
                        initialToken = null;
                        return token;
                    }
                    try {
                        return (await this.fetchGuestToken()).token;
                    } catch (error) {
                        this.state.error = error.message;
                        throw error;
                    }
                },
                dashboardUiConfig: { hideTitle: true, filters: { expanded: false } },
            });
            this.state.error = null;
        } catch (error) {
            this.state.error = error.message;
        } finally {
            this.state.loading = false;
        }
    }
}

registry.category("actions").add("ipai_bi_superset_embed.dashboard", BiDashboard);
