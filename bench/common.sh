# Shared by the benchmark scripts: sourced after they set $work, $keep and
# $bench_name. Prepares the work directory (refusing tmpfs), stops the
# server by $server_pid on exit, and defines the timing helpers.

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
if [[ "$(stat -f -c %T "$work")" == "tmpfs" ]]; then
  echo "$bench_name: $work is on tmpfs; pass --dir on a real disk" >&2
  exit 1
fi

server_pid=
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if ((keep == 0)); then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '  %s\n' "$*" >&2; }
seconds_of() {  # seconds_of CMD...: wall time of a command, in seconds
  local start end
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
mib_per_s() { awk -v bytes="$1" -v secs="$2" 'BEGIN { printf "%.0f", bytes / 1048576 / secs }'; }
