"""When a failed delivery is tried again: exponential backoff with a cap."""

from datetime import timedelta


def next_delay(attempts, base_seconds, cap_seconds=3600):
    """After ``attempts`` failed attempts (1 or more): base, 2*base, 4*base...
    never more than ``cap_seconds``."""
    return timedelta(seconds=min(base_seconds * 2 ** (attempts - 1), cap_seconds))


def should_disable(total, failed, min_attempts, threshold=0.7):
    """Over ``threshold`` of the last hour's attempts failed, counted only
    once there are ``min_attempts`` of them (one failure is not a trend)."""
    return total >= min_attempts and failed > threshold * total
