# ipai: multi-tenant Odoo 18 platform. `make run` and `make test` are all a
# newcomer needs; both set up what is missing first and are safe to rerun.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help bootstrap run test lint compose-config

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

bootstrap: ## Install everything (venv, Odoo 18, deps, PostgreSQL role, config)
	@scripts/bootstrap.sh --test

run: ## Set up and serve the platform database on http://127.0.0.1:8069
	@scripts/run.sh

test: ## Set up and run every test against throwaway databases
	@scripts/test.sh

lint: ## ruff (lint + format check) and pylint-odoo on the addons
	@scripts/lint.sh

compose-config: ## Validate docker-compose.yml
	@docker-compose -f docker-compose.yml config --quiet && echo "docker-compose.yml is valid"
