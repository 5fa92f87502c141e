"""The provisioning engine: plain Python that turns a job record into
PostgreSQL and Odoo operations, one idempotent, committed step at a time.

Data flows one way: form button / CLI -> job record -> runner -> steps ->
PostgreSQL + tenant Odoo. Only this package talks to psycopg2 directly.
"""
