"""The tenant state machine, in plain Python.

Every state change goes through ``transition_problem`` on the server, so a
button hidden in a view is never the only guard.
"""

DRAFT = "draft"
PROVISIONING = "provisioning"
ACTIVE = "active"
SUSPENDED = "suspended"
ARCHIVED = "archived"
FAILED = "failed"
# A restore or an upgrade works on the database: the tenant runtime answers
# with a maintenance page and runs none of its crons.
MAINTENANCE = "maintenance"

STATES = [
    (DRAFT, "Draft"),
    (PROVISIONING, "Provisioning"),
    (ACTIVE, "Active"),
    (SUSPENDED, "Suspended"),
    (MAINTENANCE, "Maintenance"),
    (ARCHIVED, "Archived"),
    (FAILED, "Failed"),
]

TRANSITIONS = {
    DRAFT: {PROVISIONING, ARCHIVED},
    # Back to draft: a create or clone cancelled before it started.
    PROVISIONING: {ACTIVE, FAILED, DRAFT},
    ACTIVE: {SUSPENDED, PROVISIONING, MAINTENANCE, ARCHIVED, FAILED},
    SUSPENDED: {ACTIVE, MAINTENANCE, ARCHIVED, FAILED},
    # Back to where it was before the restore or upgrade.
    MAINTENANCE: {ACTIVE, SUSPENDED, FAILED},
    # The engine brings a failed tenant to wherever its retried job ends.
    FAILED: {PROVISIONING, ACTIVE, SUSPENDED, MAINTENANCE, ARCHIVED},
    ARCHIVED: set(),
}

# Which states each operator action may start from.
ACTION_SOURCES = {
    "provision": {DRAFT, FAILED},
    "suspend": {ACTIVE},
    "reactivate": {SUSPENDED},
    "archive": {ACTIVE, SUSPENDED, FAILED, DRAFT},
    "drop": {ACTIVE, SUSPENDED, FAILED},
    "backup": {ACTIVE, SUSPENDED},
    "restore": {ACTIVE, SUSPENDED},
    "upgrade": {ACTIVE, SUSPENDED},
    "clone": {ACTIVE},
    "change_plan": {DRAFT, ACTIVE, SUSPENDED},
    "upgrade_to_provider": {DRAFT, PROVISIONING, ACTIVE, SUSPENDED},
    "move_cell": {ACTIVE, SUSPENDED},
    "move_server": {ACTIVE, SUSPENDED},
}

STATE_LABELS = dict(STATES)


def transition_problem(current, target):
    """Return why ``current`` may not move to ``target``, or None."""
    if current == target:
        return None
    if target not in TRANSITIONS.get(current, ()):
        return (
            f"A tenant in state '{STATE_LABELS[current]}' cannot move to '{STATE_LABELS[target]}'."
        )
    return None


def action_problem(action, current, label):
    if current not in ACTION_SOURCES[action]:
        allowed = ", ".join(sorted(STATE_LABELS[s] for s in ACTION_SOURCES[action]))
        return f"{label} is only possible for tenants in state: {allowed}."
    return None
