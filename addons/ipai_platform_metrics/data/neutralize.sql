-- A copied platform database must not answer the original's Prometheus:
-- without a token its /metrics refuses every scrape until one is set.
DELETE FROM ir_config_parameter WHERE key = 'ipai_platform_metrics.token';
