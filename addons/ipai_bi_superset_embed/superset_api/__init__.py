"""Plain Python, no ORM: Superset's REST API for guest tokens, the in-process
token caches, and the Fernet helper for the stored service password."""
