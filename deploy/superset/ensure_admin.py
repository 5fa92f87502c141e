"""Create Superset's first administrator, or reset its password to the one in
the environment. Idempotent; run with Superset's own Python after `superset init`:

    SUPERSET_ADMIN_USERNAME=admin SUPERSET_ADMIN_PASSWORD=... python ensure_admin.py

`superset fab create-admin` leaves an existing user alone, so a password
rotated in the environment would never reach Superset; this does.
"""

import os
import sys


def main():
    username = os.environ.get("SUPERSET_ADMIN_USERNAME", "admin")
    password = os.environ.get("SUPERSET_ADMIN_PASSWORD", "")
    email = os.environ.get("SUPERSET_ADMIN_EMAIL", "admin@superset.localhost")
    if not password:
        sys.exit("ensure_admin: SUPERSET_ADMIN_PASSWORD is not set")

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager
        from werkzeug.security import check_password_hash

        role = security_manager.find_role("Admin")
        user = security_manager.find_user(username=username)
        if user is None:
            security_manager.add_user(username, "Superset", "Admin", email, role, password=password)
            print(f"ensure_admin: created {username}")
        elif not check_password_hash(user.password, password) or role not in user.roles:
            security_manager.reset_password(user.id, password)
            user = security_manager.find_user(username=username)
            if role not in user.roles:
                user.roles.append(role)
            security_manager.update_user(user)
            print(f"ensure_admin: updated {username}")
        else:
            print(f"ensure_admin: {username} is up to date")


if __name__ == "__main__":
    main()
