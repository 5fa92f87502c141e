# ipai: multi-tenant Odoo 18 platform. `make run` and `make test` are all a
# newcomer needs; both set up what is missing first and are safe to rerun.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help bootstrap run mail test lint compose-config bench-provision bench-cli \
	provision-tenant list-tenants clone-tenant suspend-tenant reactivate-tenant drop-tenant archive-tenant \
	superset superset-stop superset-workspace bench-guest-token verify-audit bill-tenants \
	pool-status refill-pool api-key backup-tenant list-backups restore-tenant export-backup import-tenant test-restore \
	prune-backups upgrade-tenants introspect-tenant bench-introspect bench-sessions bench-failover \
	bench-fanout bench-documents add-server set-replica list-servers cell-env move-tenant-cell move-tenant drain-server bench-move

TENANT := @scripts/tenant.sh
# Optional arguments, passed on only when given.
opt = $(if $($(1)),$(2) "$($(1))")
# A count given as $(1)=$(2) (one or more whole numbers from 1 up), checked
# before anything runs: otherwise one line and exit 2, as the commands do.
counts_ok = $(shell for n in $(1); do [[ "$$n" =~ ^[1-9][0-9]{0,8}$$ ]] || exit 1; done && echo ok)
count = $(if $(call counts_ok,$(2)),$(2),$(error $(1) must be a whole number from 1 up, not '$(2)'))
# The same, 0 allowed.
count0 = $(if $(or $(filter 0,$(2)),$(call counts_ok,$(2))),$(2),$(error $(1) must be a whole number from 0 up, not '$(2)'))
# A yes/no switch: 1, yes or true for yes; empty, 0, no or false for no.
switch = $(if $(filter-out 0 1 yes no true false,$($(1))),$(error $(1) takes 1 or 0, not '$($(1))'))$(filter 1 yes true,$($(1)))

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

bootstrap: ## Install everything (venv, Odoo 18, deps, PostgreSQL role, config)
	@scripts/bootstrap.sh --test

run: ## [NODES=1]: Set up and serve both runtimes behind the proxy: platform http://127.0.0.1:8080, tenants http://<code>.localhost:8080
	@NODES="$(or $(NODES),1)" scripts/run.sh

mail: ## [SHOW=N]: the mails `make run`'s local mail catcher kept (nothing leaves the machine); SHOW=N prints one
	@"$(CURDIR)/.venv/bin/python" scripts/mail.py $(call opt,SHOW,--show)

test: ## Set up and run every test against throwaway databases
	@scripts/test.sh

lint: ## ruff (lint + format check) and pylint-odoo on the addons
	@scripts/lint.sh

compose-config: ## Validate docker-compose.yml
	@docker-compose -f docker-compose.yml --env-file .env.example config --quiet && echo "docker-compose.yml is valid"

bench-provision: ## Benchmark: N signups from pool and template, BULK queued at once, fresh installs, memory (N=20 BULK=100)
	@scripts/bench_provision.sh $(call count,N,$(or $(N),20)) $(call count,BULK,$(or $(BULK),100))

bench-fanout: ## [FANOUT="100 500"] [BACKENDS=8] [REGISTRIES=0]: Benchmark: one tenant vs round-robin over many, direct and through PgBouncer
	@BACKENDS=$(call count,BACKENDS,$(or $(BACKENDS),8)) REGISTRIES=$(call count0,REGISTRIES,$(or $(REGISTRIES),0)) \
		scripts/bench_fanout.sh "$(call count,FANOUT,$(or $(FANOUT),100 500))"

bench-documents: ## [ROUNDS=10]: Benchmark: p50 time to print a tenant's invoice to PDF through the tenant runtime
	@scripts/bench_documents.sh $(call count,ROUNDS,$(or $(ROUNDS),10))

bench-sessions: ## [ROUNDS=500]: Benchmark: what each session store costs a request (files, session_db, Redis)
	@scripts/bootstrap.sh >/dev/null && source scripts/lib.sh && load_local_env && ensure_platform_db >&2 \
		&& "$$PY" scripts/bench_sessions.py --rounds $(call count,ROUNDS,$(or $(ROUNDS),500))

bench-move: ## [SIZE_MB=300]: Benchmark: a tenant moved to a second server and back while a client writes; downtime of each move
	@scripts/bootstrap.sh >/dev/null && source scripts/lib.sh && load_local_env && ensure_platform_db >&2 \
		&& "$$PY" scripts/bench_move.py --size-mb $(call count,SIZE_MB,$(or $(SIZE_MB),300))

bench-failover: ## [ROUNDS=5]: Benchmark: kill -9 of the node serving a tenant, time until it answers again through the proxy
	@scripts/bootstrap.sh >/dev/null && source scripts/lib.sh && load_local_env && ensure_platform_db >&2 \
		&& ODOO_BIN="$$(odoo_bin)" "$$PY" scripts/bench_failover.py --rounds $(call count,ROUNDS,$(or $(ROUNDS),5))

bench-cli: ## Benchmark: make list-tenants and the other listings on the platform database (ROUNDS=7)
	@scripts/bench_cli.sh $(call count,ROUNDS,$(or $(ROUNDS),7))

provision-tenant: ## CODE=acme [NAME= PLAN= TYPE= PARENT= EMAIL= ADMIN_NAME= COUNTRY=]: create a tenant
	$(TENANT) provision --code "$(CODE)" $(call opt,NAME,--name) $(call opt,PLAN,--plan) \
		$(call opt,TYPE,--type) $(call opt,PARENT,--parent) $(call opt,EMAIL,--email) \
		$(call opt,ADMIN_NAME,--admin-name) $(call opt,COUNTRY,--country)

cell-env: ## CELL=main: print IPAI_CELL and IPAI_CELL_SECRET for the nodes of a cell (run on the control plane)
	@scripts/bootstrap.sh >/dev/null && source scripts/lib.sh && load_local_env \
		&& "$$PY" scripts/cell_env.py "$(or $(CELL),main)"

move-tenant-cell: ## CODE=acme CELL=b: move a tenant to another cell (a job; prints its downtime)
	$(TENANT) move-cell --code "$(CODE)" --cell "$(CELL)"

list-tenants: ## [TYPE= STATE=]: list tenants
	$(TENANT) list $(call opt,TYPE,--type) $(call opt,STATE,--state)

clone-tenant: ## SOURCE=acme CODE=acme-copy [DATA=1]: clone a tenant
	$(TENANT) clone --source "$(SOURCE)" --code "$(CODE)" $(if $(call switch,DATA),--data)

suspend-tenant: ## CODE=acme: block a tenant's users, keep its data
	$(TENANT) suspend --code "$(CODE)"

reactivate-tenant: ## CODE=acme: let a suspended tenant's users back in
	$(TENANT) reactivate --code "$(CODE)"

drop-tenant: ## CODE=acme: remove a tenant's database, role and files
	$(TENANT) drop --code "$(CODE)"

archive-tenant: ## CODE=acme: back up, then drop a tenant
	$(TENANT) archive --code "$(CODE)"

backup-tenant: ## CODE=acme: back a tenant up now (database + files, sha256 of each)
	$(TENANT) backup --code "$(CODE)"

list-backups: ## [CODE=acme]: list backups, newest first
	$(TENANT) list-backups $(call opt,CODE,--code)

restore-tenant: ## BACKUP=<id> [CODE=new-code]: restore into a new tenant (CODE) or in place
	$(TENANT) restore --backup "$(BACKUP)" $(call opt,CODE,--code)

export-backup: ## BACKUP=<id> [OUT=file.zip]: a backup as Odoo's own backup zip (restores in any Odoo 18)
	$(TENANT) export-backup --backup "$(BACKUP)" $(call opt,OUT,--out)

import-tenant: ## CODE=<new-code> FILE=<odoo-backup.zip> [PLAN=trial] [EMAIL=] [NAME=]: a new tenant from a customer's Odoo 18 backup zip
	$(TENANT) import-backup --code "$(CODE)" --file "$(FILE)" $(call opt,PLAN,--plan) $(call opt,EMAIL,--email) $(call opt,NAME,--name)

test-restore: ## [BACKUP=<id>]: restore a backup into a scratch database and check it (default: a random recent one)
	$(TENANT) test-restore $(call opt,BACKUP,--backup)

prune-backups: ## apply the backup retention now (as the daily cron)
	$(TENANT) prune-backups

upgrade-tenants: ## [MODULES=a,b TENANTS=x,y CONCURRENCY=2]: upgrade the fleet; rolled-back tenants exit 1
	$(TENANT) upgrade-tenants $(call opt,MODULES,--modules) $(call opt,TENANTS,--tenants) \
		$(call opt,CONCURRENCY,--concurrency)

introspect-tenant: ## CODE=acme [FORMAT=dbml|md|erd|all] [OUT=dir]: document a tenant database's schema
	$(TENANT) introspect --code "$(CODE)" $(call opt,FORMAT,--format) $(call opt,OUT,--out)

bench-introspect: ## CODE=acme [ROUNDS=5]: Benchmark: document a tenant's schema, print the time of each phase
	@scripts/bootstrap.sh >/dev/null && source scripts/lib.sh && load_local_env && ensure_platform_db >&2 \
		&& "$$PY" scripts/bench_introspect.py \
		-c "$$IPAI_ODOO_CONF" -d "$$IPAI_PLATFORM_DB" --code "$(CODE)" $(call opt,ROUNDS,--rounds)

bill-tenants: ## [DATE=YYYY-MM-DD]: invoice the month of DATE (default today), once; prints the invoices
	@scripts/bill_tenants.sh $(call opt,DATE,--date)

add-server: ## NAME=db2 HOST=10.0.0.5 [PORT=5432 CAPACITY=200]: prepare a PostgreSQL server and register it for tenants
	@scripts/bootstrap.sh >/dev/null && source scripts/lib.sh && load_local_env && ensure_platform_db >&2 \
		&& scripts/add_server.sh "$(NAME)" "$(HOST)" "$(or $(PORT),5432)" "$(CAPACITY)"

move-tenant: ## CODE=acme SERVER=db2 [GRACE_HOURS=24]: move a tenant's database to another server (a job)
	$(TENANT) move-server --code "$(CODE)" --server "$(SERVER)" $(call opt,GRACE_HOURS,--grace-hours)

drain-server: ## SERVER=db1 [GRACE_HOURS=24]: close a server and move each of its tenants elsewhere
	$(TENANT) drain-server --server "$(SERVER)" $(call opt,GRACE_HOURS,--grace-hours)

set-replica: ## SERVER=db1 HOST=10.0.0.6 [PORT=5432 MAX_LAG=30]: name a server's streaming replica (empty HOST: none); reads go there
	$(TENANT) set-replica --server "$(SERVER)" --host "$(HOST)" --port "$(or $(PORT),5432)" $(call opt,MAX_LAG,--max-lag)

list-servers: ## Database servers: health, open or closed, databases, size, connections (checked now)
	$(TENANT) list-servers

pool-status: ## Warm pool: ready/building/stale databases per plan's module set
	$(TENANT) pool-status

refill-pool: ## [PLAN=trial SIZE=2]: set a plan's warm pool size, then build what is missing
	$(TENANT) refill-pool $(call opt,PLAN,--plan) $(call opt,SIZE,--size)

api-key: ## LOGIN=alice [NAME= DAYS=90 RATE=]: a REST API key for a user, shown once (docs/api.md)
	@scripts/api_key.sh --login "$(LOGIN)" $(call opt,NAME,--name) $(call opt,DAYS,--days) \
		$(call opt,RATE,--rate-limit)

verify-audit: ## [DB=ipai_platform]: check the audit trail; exit 1 names the first bad or missing entry
	@scripts/verify_audit.sh $(if $(DB),"$(DB)")

superset: ## Install (once), initialise and start Apache Superset 6.1 on http://127.0.0.1:8088
	@scripts/superset.sh start

superset-stop: ## Stop the local Superset
	@scripts/superset.sh stop

superset-workspace: ## CODE=acme [TABLES="sales orders"] [DOMAINS="http://x:8069"]: a tenant's Superset workspace (idempotent)
	@scripts/superset.sh workspace --code "$(CODE)" $(foreach t,$(TABLES),--table "$(t)") $(foreach d,$(DOMAINS),--allowed-domain "$(d)")

bench-guest-token: ## Benchmark: guest-token route warm/cold vs Superset's own endpoint
	@scripts/superset.sh bench
