"""A person's role on a tenant, and what each role may do.

A role on a tenant holds on its whole subtree (a provider's staff act on its
clients); the strongest role a user holds on a tenant or one of its ancestors
is the one that counts. Each power names the weakest role that has it, so
every stronger role has it too (docs/roles.md is the table)."""

OWNER = "owner"
ADMIN = "admin"
MANAGER = "manager"
MEMBER = "member"
VIEWER = "viewer"
ROLES = [
    (OWNER, "Owner"),
    (ADMIN, "Administrator"),
    (MANAGER, "Manager"),
    (MEMBER, "Member"),
    (VIEWER, "Viewer"),
]
ROLE_RANK = {VIEWER: 1, MEMBER: 2, MANAGER: 3, ADMIN: 4, OWNER: 5}

# Powers, each with the weakest role holding it.
READ = "read"  # the tenant, its domains and team
OBSERVE = "observe"  # also its jobs, their steps, its usage and audit trail
OPERATE = "operate"  # suspend, reactivate, change plan, clone, back up, edit, jobs
ADMINISTER = "administer"  # team, sub-tenants, API keys, admin password
OWN = "own"  # archive, drop, transfer ownership
POWER_ROLE = {READ: VIEWER, OBSERVE: MEMBER, OPERATE: MANAGER, ADMINISTER: ADMIN, OWN: OWNER}


def role_has(role, power):
    return bool(role) and ROLE_RANK[role] >= ROLE_RANK[POWER_ROLE[power]]


def roles_with(power):
    return tuple(role for role, _label in ROLES if role_has(role, power))
