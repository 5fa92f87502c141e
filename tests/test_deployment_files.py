"""The deployment files are valid and hold no secret."""

import configparser
import subprocess

from .support import REPO_ROOT

SECRET_OPTIONS = ("admin_passwd", "db_password", "ipai_encryption_key")


def compose_config(*env_file):
    return subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", *env_file, "config", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_docker_compose_file_is_valid_with_the_documented_variables():
    result = compose_config("--env-file", ".env.example")
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_run_without_its_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config("--env-file", str(empty))
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_odoo_config_templates_hold_no_secret():
    for name in ("odoo.conf", "odoo.prod.conf"):
        parser = configparser.RawConfigParser()
        parser.read(REPO_ROOT / name)
        for option in SECRET_OPTIONS:
            assert not parser["options"].get(option), (name, option)
        assert parser["options"]["list_db"] == "False", name


def test_no_local_state_or_env_file_is_tracked():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert not [path for path in tracked if path.startswith(".local/") or path == ".env"]
