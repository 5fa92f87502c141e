"""Typed failures: the runner retries the first kind and stops on the second."""

import psycopg2
from psycopg2 import errorcodes


class ProvisioningError(Exception):
    """Base class of the engine's own errors."""


class RetryableError(ProvisioningError):
    """Transient: the same step may succeed later (lost connection, lock
    timeout, serialization failure, a template being built by someone else)."""


class WaitingError(RetryableError):
    """Not a failure: the step needs something another job is making (a
    template being built). The job goes back to the queue for ``retry_in``
    seconds without using up one of its attempts."""

    def __init__(self, message, retry_in=2):
        super().__init__(message)
        self.retry_in = retry_in


class PermanentError(ProvisioningError):
    """The step cannot succeed without someone changing something."""


TRANSIENT_PGCODES = {
    errorcodes.SERIALIZATION_FAILURE,
    errorcodes.DEADLOCK_DETECTED,
    errorcodes.LOCK_NOT_AVAILABLE,
    errorcodes.QUERY_CANCELED,  # statement/lock timeout
    errorcodes.OBJECT_IN_USE,  # "source database is being accessed by other users"
    errorcodes.CANNOT_CONNECT_NOW,
    errorcodes.ADMIN_SHUTDOWN,
    errorcodes.TOO_MANY_CONNECTIONS,
}


def is_transient(exc):
    """Whether ``exc`` is worth a retry with backoff."""
    if isinstance(exc, RetryableError):
        return True
    if isinstance(exc, PermanentError):
        return False
    if isinstance(exc, psycopg2.Error):
        if exc.pgcode in TRANSIENT_PGCODES:
            return True
        # No pgcode: the connection itself failed or was lost.
        return isinstance(exc, psycopg2.OperationalError) and exc.pgcode is None
    return isinstance(exc, (ConnectionError, TimeoutError))
