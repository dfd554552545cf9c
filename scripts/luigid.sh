#!/usr/bin/env bash
# The central scheduler (luigid) as a service: its web view, its task history and /metrics.
#
#   scripts/luigid.sh start    start luigid in the background (says so, and starts none, when it runs)
#   scripts/luigid.sh stop     SIGTERM, then wait until luigid has saved its state and exited
#   scripts/luigid.sh status   exit 0 when it runs, 3 when it does not (the LSB's "not running")
#   scripts/luigid.sh logs     the end of its log; more tail options pass through (logs -f follows it)
#   scripts/luigid.sh run      luigid in the foreground, for a supervisor (scripts/luigid.service)
#
# Environment: ETL_LUIGID_HOST (default 127.0.0.1: luigid has no authentication, so anything wider belongs
# behind a reverse proxy that has; see README), ETL_LUIGID_PORT (default 8082), ETL_LUIGID_DIR (default
# <repo>/luigid: luigid.pid, luigid.log, state.pickle, task-history.db), ETL_LUIGID_CONFIG (default this
# directory's luigid.cfg: luigid's settings, read through LUIGI_CONFIG_PATH).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
luigid="$repo/.venv/bin/luigid"
[ -x "$luigid" ] || luigid=$(command -v luigid)
host="${ETL_LUIGID_HOST:-127.0.0.1}"
port="${ETL_LUIGID_PORT:-8082}"
dir=$(realpath -m "${ETL_LUIGID_DIR:-$repo/luigid}")
config="${ETL_LUIGID_CONFIG:-$repo/scripts/luigid.cfg}"
pid_file="$dir/luigid.pid"
log_file="$dir/luigid.log"
# luigid holds this lock for as long as it lives (run takes it, then execs luigid): whether it runs does not
# depend on a pid file that a crash left behind or on a pid the system gave to another process since.
lock_file="$dir/luigid.lock"
url="http://$host:$port/"
wait_seconds=30

running() {
  [ -e "$lock_file" ] && ! flock -n "$lock_file" true
}

recorded_pid() {
  cat "$pid_file" 2>/dev/null || echo unknown
}

answering() {
  local connect_to=$host
  [ "$connect_to" != 0.0.0.0 ] || connect_to=127.0.0.1
  (exec 3<>"/dev/tcp/$connect_to/$port") 2>/dev/null
}

case "${1:-}" in
  run)
    mkdir -p "$dir"
    exec 9>"$lock_file"
    if ! flock -n 9; then
      echo "luigid.sh: luigid already runs (pid $(recorded_pid)) with $dir" >&2
      exit 1
    fi
    echo $$ >"$pid_file"
    cd "$dir"
    export ETL_LUIGID_DIR="$dir" LUIGI_CONFIG_PATH="$config"
    exec "$luigid" --address "$host" --port "$port"
    ;;
  start)
    if running; then
      echo "luigid.sh: luigid already runs (pid $(recorded_pid)) at $url; not starting another"
      exit 0
    fi
    if answering; then
      echo "luigid.sh: something else already listens at $url; not starting luigid there" >&2
      exit 1
    fi
    mkdir -p "$dir"
    # Its own session, so that neither a Ctrl-C nor the end of the shell that started it reaches luigid.
    setsid "$0" run >>"$log_file" 2>&1 </dev/null &
    launched=$!
    for _ in $(seq $((wait_seconds * 5))); do
      if answering && running; then
        echo "luigid.sh: luigid started (pid $(recorded_pid)) at $url; log $log_file"
        exit 0
      fi
      if ! kill -0 "$launched" 2>/dev/null; then
        break
      fi
      sleep 0.2
    done
    echo "luigid.sh: luigid did not start at $url; the end of $log_file:" >&2
    tail -n 20 "$log_file" >&2
    exit 1
    ;;
  stop)
    if ! running; then
      echo "luigid.sh: luigid is not running"
      exit 0
    fi
    pid=$(recorded_pid)
    kill -TERM "$pid"
    for _ in $(seq $((wait_seconds * 5))); do
      if ! running; then
        rm -f "$pid_file"
        echo "luigid.sh: luigid stopped (pid $pid); state saved in $dir/state.pickle"
        exit 0
      fi
      sleep 0.2
    done
    echo "luigid.sh: luigid (pid $pid) still runs ${wait_seconds}s after SIGTERM; see $log_file" >&2
    exit 1
    ;;
  status)
    if running; then
      echo "luigid.sh: luigid runs (pid $(recorded_pid)) at $url"
      exit 0
    fi
    echo "luigid.sh: luigid is not running ($dir)"
    exit 3
    ;;
  logs)
    shift
    exec tail -n 50 "$@" -- "$log_file"
    ;;
  *)
    echo "usage: $0 start|stop|status|logs [tail options]|run" >&2
    exit 2
    ;;
esac
