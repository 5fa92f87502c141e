"""Attacks on the control plane's authorization, made as a provider manager
(a white-label partner's staff: a customer too) over plain JSON-RPC against
the running platform. Each is refused with a clear message and changes no
database, role or record. Audit tampering is made as a database superuser
and caught by ``make verify-audit``."""

import subprocess
from contextlib import closing

import psycopg2
import pytest
import requests

from ..conftest import RUN_ID, TENANT_DB_PREFIX
from ..support import (
    REPO_ROOT,
    RpcError,
    copy_database,
    database_exists,
    provider_with_manager,
    provision,
    query,
    run_odoo_script,
    wait_for_state,
)


@pytest.fixture(scope="module")
def victim(cli):
    """Another customer's tenant, provisioned, with business data."""
    provision(cli, "cp-victim")
    return "cp-victim"


@pytest.fixture(scope="module")
def provider(admin_rpc, platform_server, victim):
    """Provider manager of cp-prov, which has one draft client of its own."""
    provider_id, manager = provider_with_manager(
        admin_rpc, platform_server, "cp-prov", "CP Provider", "cp-manager"
    )
    own = manager.call(
        "ipai.tenant", "create", {"code": "cp-own", "name": "CP Own", "parent_id": provider_id}
    )
    return manager, own, provider_id


def snapshot(platform_db):
    return {
        "jobs": query(
            platform_db, "SELECT id, tenant_id, job_type, state FROM ipai_tenant_job ORDER BY id"
        ),
        "tenants": query(
            platform_db,
            "SELECT id, code, state, database_name, db_role, "
            "runtime_role, server_id FROM ipai_tenant ORDER BY id",
        ),
        "databases": query("postgres", "SELECT datname FROM pg_database ORDER BY 1"),
        "roles": query("postgres", "SELECT rolname FROM pg_roles ORDER BY 1"),
    }


def test_jobs_and_steps_cannot_be_made_or_changed_by_hand(provider, victim, platform_db):
    manager, own, _provider_id = provider
    before = snapshot(platform_db)
    forged = {
        "tenant_id": own,
        "job_type": "clone",
        "params": {"source_code": victim, "with_data": True},
        "step_ids": [(0, 0, {"sequence": 1, "name": "create_database", "label": "x"})],
    }
    with pytest.raises(RpcError, match=r"(?i)not allowed|access"):
        manager.call("ipai.tenant.job", "create", forged)
    (job_id,) = query(platform_db, "SELECT id FROM ipai_tenant_job ORDER BY id LIMIT 1")[0]
    with pytest.raises(RpcError):
        manager.call("ipai.tenant.job", "write", [job_id], {"state": "queued"})
    with pytest.raises(RpcError):
        manager.call(
            "ipai.tenant.job.step",
            "create",
            {"job_id": job_id, "sequence": 99, "name": "drop_database", "label": "x"},
        )
    with pytest.raises(RpcError, match=r"(?i)private"):
        manager.call("ipai.tenant.job", "_enqueue", own, "clone", {"source_code": victim})
    assert snapshot(platform_db) == before


def test_a_foreign_tenant_cannot_be_cloned_through_any_path(provider, victim, platform_db):
    manager, _own, _provider_id = provider
    (victim_id,) = query(platform_db, "SELECT id FROM ipai_tenant WHERE code = %s", [victim])[0]
    before = snapshot(platform_db)
    with pytest.raises(RpcError):
        manager.call("ipai.tenant", "action_open_clone", [victim_id])
    with pytest.raises(RpcError):
        wizard = manager.call(
            "ipai.tenant.clone",
            "create",
            {"source_id": victim_id, "code": "cp-stolen", "name": "Stolen", "with_data": True},
        )
        manager.call("ipai.tenant.clone", "action_clone", [wizard])
    victim_jobs = query(
        platform_db, "SELECT j.id FROM ipai_tenant_job j WHERE j.tenant_id = %s", [victim_id]
    )
    with pytest.raises(RpcError):
        manager.call("ipai.tenant.job", "action_retry", [victim_jobs[0][0]])
    assert snapshot(platform_db) == before
    assert not database_exists(TENANT_DB_PREFIX + "cp-stolen")


def test_engine_fields_are_refused_on_every_path(provider, victim, platform_db):
    manager, own, provider_id = provider
    before = snapshot(platform_db)
    for field, value in (
        ("database_name", TENANT_DB_PREFIX + victim),
        ("state", "active"),
        ("runtime_role", f"{RUN_ID}_r_cp_victim__odoo"),
        ("db_role", f"{RUN_ID}_r_cp_victim"),
        ("analytics_schema", "tenant_cp_victim"),
        ("superset_workspace", f"ipai_{victim}"),
    ):
        with pytest.raises(RpcError, match=r"provisioning engine"):
            manager.call("ipai.tenant", "write", [own], {field: value})
    with pytest.raises(RpcError, match=r"provisioning engine"):
        manager.call(
            "ipai.tenant",
            "create",
            {
                "code": "cp-forged",
                "name": "Forged",
                "database_name": TENANT_DB_PREFIX + victim,
                "parent_id": provider_id,
            },
        )
    # Import goes through the same create/write.
    result = manager.call(
        "ipai.tenant",
        "load",
        ["id", "database_name"],
        [[f"__export__.ipai_tenant_{own}", TENANT_DB_PREFIX + victim]],
    )
    assert not result["ids"] and result["messages"]
    server = query(platform_db, "SELECT id FROM ipai_tenant_server LIMIT 1")[0][0]
    with pytest.raises(RpcError, match=r"platform managers"):
        manager.call("ipai.tenant", "write", [own], {"server_id": server})
    assert snapshot(platform_db) == before


@pytest.mark.parametrize(
    "email", ["@b.c", "<a@b.example>", "a@b.example'--", "a@@b.example", "a@b.example\n"]
)
def test_bad_emails_are_refused(provider, platform_db, email):
    manager, own, _provider_id = provider
    with pytest.raises(RpcError, match=r"(?i)e-mail|control characters"):
        manager.call("ipai.tenant", "write", [own], {"admin_email": email})
    assert query(platform_db, "SELECT admin_email FROM ipai_tenant WHERE id = %s", [own]) == [
        (None,)
    ]


@pytest.mark.parametrize("text", ["evil\x00name", "line\nbreak", "esc\x1b[31m"])
def test_control_characters_get_a_validation_message(provider, platform_db, text):
    manager, own, provider_id = provider
    before = snapshot(platform_db)
    with pytest.raises(RpcError, match=r"control characters") as error:
        manager.call("ipai.tenant", "write", [own], {"name": text})
    assert error.value.name == "odoo.exceptions.ValidationError"
    with pytest.raises(RpcError, match=r"control characters"):
        manager.call(
            "ipai.tenant", "create", {"code": "cp-x", "name": text, "parent_id": provider_id}
        )
    assert snapshot(platform_db) == before


def test_the_command_line_refuses_control_characters_with_exit_2(cli, platform_db):
    before = snapshot(platform_db)
    result = cli("provision", "--code", "cp-cli", "--name", "two\nlines")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "control characters" in result.stderr
    result = cli("provision", "--code", "cp-cli", "--email", "a@@b.example")
    assert result.returncode == 2, result.stdout + result.stderr
    assert snapshot(platform_db) == before


# ----------------------------------------------------------------- audit


@pytest.fixture(scope="module")
def audited_db(template_db, cli):
    """A platform database of its own, with a few committed audit entries,
    for the tampering below (it ends broken)."""
    name = f"{RUN_ID}_audit"
    copy_database(template_db, name)
    script = (
        "for index in range(3):\n"
        "    env['ipai.tenant'].create({'code': f'audited-{index}', 'name': 'Audited'})\n"
        "    env.cr.commit()\n"
    )
    run_odoo_script(name, script)
    return name


def verify_audit(dbname):
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / "verify_audit.sh"), dbname],
        capture_output=True,
        text=True,
        check=False,
    )


def superuser(dbname):
    conn = psycopg2.connect(dbname=dbname, user="postgres", host="127.0.0.1", port=5432)
    conn.autocommit = True
    return conn


def test_audit_tampering_by_a_database_superuser_is_detected(audited_db):
    result = verify_audit(audited_db)
    assert result.returncode == 0, result.stdout + result.stderr
    count = query(audited_db, "SELECT max(sequence) FROM ipai_audit_log")[0][0]
    with closing(superuser(audited_db)) as conn, conn.cursor() as cr:
        # The trigger refuses even a superuser, until it is switched off.
        for statement in (
            "UPDATE ipai_audit_log SET action = 'forged'",
            "DELETE FROM ipai_audit_log",
            "TRUNCATE ipai_audit_log",
        ):
            with pytest.raises(psycopg2.Error, match="append-only"):
                cr.execute(statement)
        cr.execute("SET session_replication_role = replica")  # triggers off
        # Deleting the newest entry, and moving the in-database head back.
        cr.execute("DELETE FROM ipai_audit_log WHERE sequence = %s", [count])
        cr.execute(
            "UPDATE ipai_audit_chain_head SET last_sequence = %s, last_hash = "
            "(SELECT entry_hash FROM ipai_audit_log WHERE sequence = %s)",
            [count - 1, count - 1],
        )
    result = verify_audit(audited_db)
    assert result.returncode == 1
    assert f"#{count} missing" in result.stdout
    with closing(superuser(audited_db)) as conn, conn.cursor() as cr:
        cr.execute("SET session_replication_role = replica")
        # A rewritten row, with a recomputed (unkeyed) hash.
        cr.execute(
            "UPDATE ipai_audit_log SET action = 'forged', "
            "entry_hash = encode(sha256(convert_to('forged', 'UTF8')), 'hex') WHERE sequence = 2"
        )
    result = verify_audit(audited_db)
    assert result.returncode == 1
    assert "#2 was changed" in result.stdout
    with closing(superuser(audited_db)) as conn, conn.cursor() as cr:
        cr.execute("SET session_replication_role = replica")
        cr.execute("TRUNCATE ipai_audit_log")
        cr.execute("UPDATE ipai_audit_chain_head SET last_sequence = 0")
    result = verify_audit(audited_db)
    assert result.returncode == 1
    assert "#1 missing" in result.stdout


# --------------------------------------------------------------- domains


@pytest.fixture(scope="module")
def domain_owner(provider, admin_rpc):
    """The provider's own client, on a plan with custom domains."""
    manager, own, _provider_id = provider
    plan = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "professional")])[0]
    admin_rpc.call("ipai.tenant", "write", [own], {"plan_id": plan})
    return manager, own


@pytest.mark.parametrize(
    "name, reason",
    [
        ("127.0.0.1", "IP address"),
        ("0.0.0.0", "IP address"),
        ("[::1]", "not a valid host name"),
        ("localhost", "loopback"),
        ("platform.localhost", "loopback"),
        ("shop.example\n", "control characters"),
        ("cp-victim.localhost", "loopback"),
        ("bad_name.example", "not a valid host name"),
    ],
)
def test_domain_claims_that_could_take_others_traffic_are_refused(
    domain_owner, platform_db, tenant_server, platform_server, name, reason
):
    manager, own = domain_owner
    before = snapshot(platform_db)
    domains = query(platform_db, "SELECT name FROM ipai_tenant_domain ORDER BY 1")
    with pytest.raises(RpcError, match=reason):
        manager.call("ipai.tenant.domain", "create", {"name": name, "tenant_id": own})
    assert query(platform_db, "SELECT name FROM ipai_tenant_domain ORDER BY 1") == domains
    assert snapshot(platform_db) == before
    assert requests.get(f"{platform_server.url}/web/login", timeout=30).status_code == 200


def test_platform_hosts_and_other_tenants_domains_are_refused(
    domain_owner, admin_rpc, platform_db, dns_server
):
    manager, own = domain_owner
    admin_rpc.call(
        "ir.config_parameter",
        "set_param",
        "ipai_tenant_core.platform_hosts",
        "localhost,127.0.0.1,admin.platform.test",
    )
    try:
        with pytest.raises(RpcError, match="platform's own host names"):
            manager.call(
                "ipai.tenant.domain", "create", {"name": "Admin.Platform.test", "tenant_id": own}
            )
    finally:
        admin_rpc.call("ir.config_parameter", "set_param", "ipai_tenant_core.platform_hosts", False)
    (victim_id,) = admin_rpc.call("ipai.tenant", "search", [("code", "=", "cp-victim")])
    professional = admin_rpc.call("ipai.tenant.plan", "search", [("code", "=", "professional")])
    admin_rpc.call("ipai.tenant", "write", [victim_id], {"plan_id": professional[0]})
    admin_rpc.call(
        "ipai.tenant.domain", "create", {"name": "erp.victim.test", "tenant_id": victim_id}
    )
    with pytest.raises(RpcError, match="not available"):
        manager.call("ipai.tenant.domain", "create", {"name": "erp.victim.test", "tenant_id": own})
    assert query(
        platform_db,
        "SELECT t.code FROM ipai_tenant_domain d JOIN ipai_tenant t "
        "ON t.id = d.tenant_id WHERE d.name = 'erp.victim.test'",
    ) == [("cp-victim",)]


def test_a_domain_is_routed_only_once_its_dns_record_proves_it(
    domain_owner, dns_server, tenant_server, platform_db
):
    manager, own = domain_owner
    domain_id = manager.call(
        "ipai.tenant.domain", "create", {"name": "shop.cp-own.test", "tenant_id": own}
    )
    with pytest.raises(RpcError, match="DNS record"):
        manager.call("ipai.tenant.domain", "write", [domain_id], {"verified": True})
    with pytest.raises(RpcError, match="No DNS record proves"):
        manager.call("ipai.tenant.domain", "action_verify", [domain_id])
    assert query(
        platform_db, "SELECT verified FROM ipai_tenant_domain WHERE id = %s", [domain_id]
    ) == [(False,)]
    assert (
        query(
            platform_db, "SELECT 1 FROM ipai_tenant_routing WHERE host = %s", ["shop.cp-own.test"]
        )
        == []
    )
    (token,) = query(
        platform_db,
        "SELECT verification_token FROM ipai_tenant_domain WHERE id = %s",
        [domain_id],
    )[0]
    dns_server.publish_txt("_ipai-verify.shop.cp-own.test", f"ipai-verify={token}")
    manager.call("ipai.tenant.domain", "action_verify", [domain_id])
    assert query(
        platform_db, "SELECT verified FROM ipai_tenant_domain WHERE id = %s", [domain_id]
    ) == [(True,)]


def test_a_plan_without_custom_domains_refuses_them(provider, admin_rpc, platform_db):
    manager, _own, provider_id = provider
    other = manager.call(
        "ipai.tenant", "create", {"code": "cp-nodomain", "name": "No", "parent_id": provider_id}
    )
    with pytest.raises(RpcError, match="does not include custom domains"):
        manager.call("ipai.tenant.domain", "create", {"name": "a.cp.test", "tenant_id": other})


# ------------------------------------------------------------- providers


def test_a_provider_cannot_lift_a_platform_suspension(provider, cli, admin_rpc, platform_db):
    manager, _own, provider_id = provider
    provision(cli, "cp-locked", "--parent", "cp-prov")
    (locked,) = admin_rpc.call("ipai.tenant", "search", [("code", "=", "cp-locked")])
    admin_rpc.call("ipai.tenant", "action_suspend", [locked])
    assert cli("run-jobs").returncode == 0
    wait_for_state(platform_db, "cp-locked", "suspended")
    with pytest.raises(RpcError, match="suspended by the platform"):
        manager.call("ipai.tenant", "action_reactivate", [locked])
    with pytest.raises(RpcError, match="your own provider tenant"):
        manager.call("ipai.tenant", "action_reactivate", [provider_id])
    assert query(platform_db, "SELECT state FROM ipai_tenant WHERE id = %s", [locked]) == [
        ("suspended",)
    ]
    assert not query(
        platform_db,
        "SELECT 1 FROM ipai_tenant_job WHERE tenant_id = %s AND job_type = 'reactivate'",
        [locked],
    )


def test_nothing_tells_a_provider_about_foreign_tenants(provider, victim, admin_rpc):
    manager, _own, provider_id = provider
    assert manager.call("ipai.tenant", "name_search", victim) == []
    assert manager.call("ipai.tenant", "search_count", [("code", "=", victim)]) == 0
    listed = manager.call("ipai.tenant", "search_read", [], ["code", "child_ids"])
    assert victim not in str(listed)
    groups = manager.call("ipai.tenant", "read_group", [], ["state"], ["state"])
    assert sum(group["state_count"] for group in groups) == len(listed)
    with pytest.raises(RpcError, match="export"):
        manager.call("ipai.tenant", "export_data", [provider_id], ["code", "child_ids/code"])
    # The availability message is the same for a foreign code and a free one.
    with pytest.raises(RpcError) as taken:
        manager.call(
            "ipai.tenant", "create", {"code": victim, "name": "x", "parent_id": provider_id}
        )
    assert "not available" in str(taken.value) and "exists" not in str(taken.value)
    # Another user's managed tenants are told to platform staff only: a
    # user outside the provider's team is not even readable.
    admin_id = admin_rpc.uid
    with pytest.raises(RpcError, match=r"(?i)access"):
        manager.call("res.users", "read", [admin_id], ["ipai_managed_tenant_ids"])
    with pytest.raises(RpcError, match="platform staff"):
        # As the list's header button calls it: the selected ids (none).
        manager.call("ipai.audit.log", "action_verify_chain", [])
