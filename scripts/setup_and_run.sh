#!/usr/bin/env bash
# Set up (first time only) and run the main job on the embedded defaults: synthetic orders,
# local scheduler, base directory from luigi.cfg (./data). Extra arguments go to luigi,
# e.g. --start 2024-02-01 --stop 2024-03-01 or --etl-base-dir /srv/orders.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/bootstrap.sh"
cd "$repo"
range=(--start 2024-01-01 --stop 2024-01-15)
for arg in "$@"; do
  case "$arg" in --start | --start=*) range=() ;; esac
done
exec "$repo/.venv/bin/luigi" --module etl RangeDaily --of DailyReport --local-scheduler "${range[@]}" "$@"
