"""Billing arithmetic in plain Python (no ORM): periods, proration, KPIs.

The models feed it dates, prices and histories and turn its answers into
invoice lines and KPI rows, so every rule here is unit-tested on its own.
"""
