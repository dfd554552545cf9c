#!/usr/bin/env bash
# Create .venv beside this repository and install the package with its dev tools, S3 client and dashboard, once:
# later calls return at once unless setup.py changed.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$repo/.venv"
stamp="$venv/.installed"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$repo/setup.py" -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e "$repo[dev,s3,dashboard]"
  touch "$stamp"
fi
