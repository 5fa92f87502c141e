"""Job states: a job waits in QUEUED, one runner holds it in RUNNING, and
it ends DONE, FAILED or CANCELLED. At most one open job per tenant."""

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"

STATES = [
    (QUEUED, "Queued"),
    (RUNNING, "Running"),
    (DONE, "Done"),
    (FAILED, "Failed"),
    (CANCELLED, "Cancelled"),
]
OPEN_STATES = (QUEUED, RUNNING)
