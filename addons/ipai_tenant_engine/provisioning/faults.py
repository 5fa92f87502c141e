"""Fault injection for the crash-recovery tests.

``IPAI_FAILPOINT=after:create_database`` kills this process with SIGKILL
right after that step committed (``before:`` right before it starts;
``during:restore_scratch`` half-way through that step, where a step offers
such a point). Unset, it does nothing.
"""

import logging
import os
import signal

_logger = logging.getLogger(__name__)


def failpoint(moment, step):
    if os.environ.get("IPAI_FAILPOINT") == f"{moment}:{step}":
        _logger.warning("failpoint %s:%s reached, killing the process", moment, step)
        os.kill(os.getpid(), signal.SIGKILL)
