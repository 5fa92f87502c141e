"""Streaming replicas: what the platform (server health) and the tenant
runtime (where a read-only request goes) both measure, the same way."""

# How far a streaming replica is behind its primary, in seconds: 0 when it
# replayed all it received (an idle primary sends nothing, which is no lag),
# else the age of the last transaction it replayed; NULL when the server is
# no standby at all (never read from it: it may be a diverged copy). Any role
# may ask: the runtime asks as a tenant's role, on its own connection.
LAG_QUERY = """
SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float
        END
"""

DEFAULT_MAX_LAG_SECONDS = 30
NOT_STANDBY = "it is no standby (not in recovery)"


def lag_problem(lag, max_lag):
    """Why a replica whose LAG_QUERY answered ``lag`` may not serve reads
    now (a limit of ``max_lag`` seconds), or None."""
    if lag is None:
        return NOT_STANDBY
    limit = max_lag or DEFAULT_MAX_LAG_SECONDS
    if lag > limit:
        return f"{lag:.1f} s behind its primary (limit {limit} s)"
    return None
