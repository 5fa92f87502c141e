"""Plain-Python side of the notifications: what goes over the wire."""
