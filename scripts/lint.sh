#!/usr/bin/env bash
# `make lint`: ruff (lint + format check) on all Python, pylint-odoo on addons.
source "$(dirname "$0")/lib.sh"
[[ -x "$VENV/bin/ruff" ]] || "$REPO_ROOT/scripts/bootstrap.sh"
cd "$REPO_ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
# README.rst is generated from readme/ fragments at release time, not kept in git.
"$VENV/bin/pylint" --rcfile=.pylintrc --disable=missing-readme addons/*/
echo "lint clean"
