"""What the REST API keeps in PostgreSQL so that every worker and process
of the control plane sees the same: request counts per key and minute (the
rate limit) and the first result of each idempotent request. Neither is
readable by any group: the API's own code writes and reads them."""

import json
import math
import time
from datetime import UTC, datetime

from odoo import api, fields, models

WINDOW_SECONDS = 60
# How long a client may retry a create with the same Idempotency-Key.
IDEMPOTENCY_HOURS = 24


class IpaiApiRateWindow(models.Model):
    _name = "ipai.api.rate.window"
    _description = "API requests of a key in one minute"
    _log_access = False

    key_id = fields.Many2one("ipai.api.key", required=True, ondelete="cascade", index=True)
    window_start = fields.Datetime(required=True)
    hits = fields.Integer(required=True, default=0)

    _sql_constraints = [
        ("key_window_unique", "unique(key_id, window_start)", "One counter per key and window."),
    ]

    @api.model
    def _hit(self, key_id):
        """Count one request of ``key_id`` in the current fixed window, in
        one atomic statement (parallel workers add up, none is lost), and
        return (requests in this window, seconds until the window ends)."""
        now = time.time()
        start = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
        window_start = datetime.fromtimestamp(start, UTC).replace(tzinfo=None)
        self.env.cr.execute(
            """INSERT INTO ipai_api_rate_window AS w (key_id, window_start, hits)
               VALUES (%s, %s, 1)
               ON CONFLICT (key_id, window_start) DO UPDATE SET hits = w.hits + 1
               RETURNING hits""",
            [key_id, window_start],
        )
        hits = self.env.cr.fetchone()[0]
        if hits == 1:  # a new window: the key's older ones are of no use any more
            self.env.cr.execute(
                "DELETE FROM ipai_api_rate_window WHERE key_id = %s AND window_start < %s",
                [key_id, window_start],
            )
        return hits, max(math.ceil(start + WINDOW_SECONDS - now), 1)


class IpaiApiIdempotency(models.Model):
    _name = "ipai.api.idempotency"
    _description = "First result of an idempotent API request"

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=True)
    idempotency_key = fields.Char(required=True)
    request_hash = fields.Char(required=True, help="SHA-256 of method, path and body.")
    status = fields.Integer()
    response = fields.Json()

    _sql_constraints = [
        (
            "user_key_unique",
            "unique(user_id, idempotency_key)",
            "One result per user and Idempotency-Key.",
        ),
    ]

    @api.model
    def _claim(self, user_id, idempotency_key, request_hash):
        """Take ``idempotency_key`` for this request, or return the earlier
        request's (request_hash, status, response). A concurrent request
        with the same key waits on the unique index until the first one
        commits (or fails, and then this one goes ahead)."""
        self.env.cr.execute(
            "DELETE FROM ipai_api_idempotency WHERE create_date < "
            "now() at time zone 'utc' - make_interval(hours => %s)",
            [IDEMPOTENCY_HOURS],
        )
        self.env.cr.execute(
            """INSERT INTO ipai_api_idempotency
                      (user_id, idempotency_key, request_hash, create_date, write_date,
                       create_uid, write_uid)
               VALUES (%s, %s, %s, now() at time zone 'utc', now() at time zone 'utc', %s, %s)
               ON CONFLICT (user_id, idempotency_key) DO NOTHING
               RETURNING id""",
            [user_id, idempotency_key, request_hash, user_id, user_id],
        )
        if self.env.cr.fetchone():
            return None
        self.env.cr.execute(
            """SELECT request_hash, status, response FROM ipai_api_idempotency
                WHERE user_id = %s AND idempotency_key = %s""",
            [user_id, idempotency_key],
        )
        return self.env.cr.fetchone()

    @api.model
    def _store(self, user_id, idempotency_key, status, response):
        self.env.cr.execute(
            """UPDATE ipai_api_idempotency SET status = %s, response = %s::jsonb
                WHERE user_id = %s AND idempotency_key = %s""",
            [status, json.dumps(response), user_id, idempotency_key],
        )
