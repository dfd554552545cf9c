#!/usr/bin/env bash
# The cron entry point: run DailyPipeline (report and retention cleanup) through one business day,
# by default yesterday in [etl] timezone. Missed earlier days are caught up first, oldest first,
# back to [etl] start_date (python -m etl backfill: RangeDaily, in chunks of days). Safe to call
# from any directory and to overlap: a second run while one is active exits 10 at once.
#
#   scripts/run_daily.sh [--date YYYY-MM-DD] [extra luigi arguments, e.g. --workers 2]
#
# Environment: ETL_BASE_DIR (base directory), LUIGI_CONFIG_PATH (default: this repo's luigi.cfg),
# ETL_SCHEDULER_URL (a luigid, e.g. http://127.0.0.1:8082; default: the one [core] scheduler_url or
# scheduler_host/port name in the config, as luigi finds it; with none configured, a local scheduler),
# ETL_LOG_DIR (default: <repo>/logs), ETL_LOCK_FILE (default: $ETL_LOG_DIR/run_daily.lock),
# ETL_NOW (an ISO timestamp the pipeline takes for now: which day is yesterday, the times it records;
# this script's own stamps in the log stay the wall clock, when the run really happened).
# The log ends with the outcome, then what the days came to: how many were done, skipped and failed, and which.
# Exit status: luigi's (see [retcode] in etl/luigi_defaults.cfg); 10 when already running.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python_bin="$repo/.venv/bin/python"
[ -x "$python_bin" ] || python_bin=$(command -v python3)
export LUIGI_CONFIG_PATH="${LUIGI_CONFIG_PATH:-$repo/luigi.cfg}"

date_arg=""
if [ "${1:-}" = "--date" ]; then
  date_arg=$2
  shift 2
fi
[ -n "$date_arg" ] || date_arg=$("$python_bin" -m etl yesterday)

log_dir="${ETL_LOG_DIR:-$repo/logs}"
mkdir -p "$log_dir"
log_file="$log_dir/daily-$date_arg.log"
exec 9>"${ETL_LOCK_FILE:-$log_dir/run_daily.lock}"
if ! flock -n 9; then
  echo "run_daily: another run is active; not starting DailyPipeline for $date_arg" | tee -a "$log_file" >&2
  exit 10
fi

if [ -n "${ETL_SCHEDULER_URL:-}" ]; then
  scheduler=(--scheduler-url "$ETL_SCHEDULER_URL")
elif "$python_bin" -m etl scheduler "$@" >/dev/null 2>&1; then
  scheduler=()  # the config (or an argument) names a luigid: luigi finds it there
else
  scheduler=(--local-scheduler)
fi

echo "run_daily: $(date -u +%FT%TZ) DailyPipeline through $date_arg" >>"$log_file"
set +e
# Luigi's log lines go to the log as they come; the backfill's one line on stdout (its outcome and the days) last.
days=$("$python_bin" -m etl backfill --of DailyPipeline --through "$date_arg" "${scheduler[@]}" "$@" 2>>"$log_file")
status=$?
set -e
echo "run_daily: $(date -u +%FT%TZ) DailyPipeline through $date_arg exited $status" | tee -a "$log_file"
[ -z "$days" ] || echo "$days" | tee -a "$log_file"
exit "$status"
