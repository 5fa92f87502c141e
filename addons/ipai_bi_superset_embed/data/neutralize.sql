-- A copied database must not reach the original's Superset workspace.
DELETE FROM ir_config_parameter WHERE key = 'ipai_bi_superset_embed.password';
