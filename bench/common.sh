# Shared by the benchmark scripts: sourced after they set $work, $keep and
# $bench_name. Prepares the work directory (refusing tmpfs), stops on exit
# every process it was told about (by pid: $server_pid, and each pid passed to
# track_pid), runs the script's bench_cleanup_extra if it defines one (network
# namespaces, ...), and defines the timing and readiness helpers.

# The work directory is cleared now and removed on exit: only ever one this
# prelude made (it leaves a marker file in it), never an unset path or a
# directory that holds something else.
readonly bench_marker=.ferry-bench-work
if [[ -z "${work:-}" || -z "${bench_name:-}" ]]; then
  echo "bench/common.sh: set \$work and \$bench_name before sourcing it" >&2
  exit 2
fi
if [[ -d "$work" && ! -e "$work/$bench_marker" && -n "$(ls -A "$work")" ]]; then
  echo "$bench_name: $work is not empty and was not made by a benchmark; refusing to clear it" >&2
  exit 1
fi
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
touch "$work/$bench_marker"
if [[ "$(stat -f -c %T "$work")" == "tmpfs" ]]; then
  echo "$bench_name: $work is on tmpfs; pass --dir on a real disk" >&2
  exit 1
fi

server_pid=
tracked_pids=()
track_pid() { tracked_pids+=("$1"); }

# stop_pid PID: SIGTERM, up to 10 s to exit, then SIGKILL.
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid i
  # Newest first: clients and proxies before the servers they talk to.
  for ((i = ${#tracked_pids[@]} - 1; i >= 0; i--)); do stop_pid "${tracked_pids[$i]}"; done
  if [[ -n "$server_pid" ]]; then stop_pid "$server_pid"; fi
  if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra || true; fi
  if ((keep == 0)) && [[ -e "$work/$bench_marker" ]]; then rm -rf "$work"; fi
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# wait_ready FILE PID LOG: waits (30 s at most) until FILE is non-empty; fails
# with the tail of LOG if PID exits first.
wait_ready() {
  local file=$1 pid=$2 logfile=$3
  for _ in $(seq 300); do
    [[ -s "$file" ]] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$bench_name: process $pid exited before it was ready; $logfile:" >&2
      tail -20 "$logfile" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$bench_name: $file not written after 30 s; $logfile:" >&2
  tail -20 "$logfile" >&2
  exit 1
}

# json_field FILE FIELD: one top-level field of a JSON file.
json_field() { node -p "JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'))[process.argv[2]]" "$1" "$2"; }

# free_ports N: N distinct loopback TCP ports that were free a moment ago.
free_ports() {
  node -e '
    const net = require("net");
    const servers = [];
    let left = Number(process.argv[1]);
    for (let i = 0; i < left; i++) {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        servers.push(s);
        if (--left === 0) {
          console.log(servers.map((x) => x.address().port).join(" "));
          servers.forEach((x) => x.close());
        }
      });
    }' "$1"
}

# peak_rss_mib PID: VmHWM of a running process, in MiB.
peak_rss_mib() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

CHUNK_BYTES=$((4 * 1024 * 1024))

# make_ext4_image IMAGE SIZE_GIB DATA_MIB: a raw disk of SIZE_GIB GiB holding an
# ext4 file system with ~DATA_MIB MiB of realistic files (bench/make_tree.sh),
# the rest free. Sets image_bytes and files.
make_ext4_image() {
  local image=$1 size_gib=$2 data_mib=$3 tree=$work/tree
  "$repo_dir/bench/make_tree.sh" "$tree" "$data_mib"
  files=$(find "$tree" -type f | wc -l)
  truncate -s "${size_gib}G" "$image"
  mkfs.ext4 -q -F -L ferry-bench -d "$tree" "$image" >/dev/null
  rm -rf "$tree"
  image_bytes=$(stat -c %s "$image")
}

# make_image IMAGE SIZE_GIB DATA_MIB: make_ext4_image, and also sets data_bytes
# (bytes in non-zero 4 MiB chunks, counted with an untimed sparse dd, which
# reads every hole: slow for very large images).
make_image() {
  make_ext4_image "$@"
  dd if="$1" of="$work/dd-sparse" bs=$CHUNK_BYTES conv=sparse status=none
  data_bytes=$(($(stat -c '%b * %B' "$work/dd-sparse")))
  rm -f "$work/dd-sparse"
  sync
}

# serve_and_import IMAGE REGION BUCKET NAME: starts `ferry serve` ($ferry) on a
# free port with fresh keys and its data directory in $work/data, and imports
# IMAGE (hard-linked into BUCKET, removed after) as NAME, untimed, then syncs
# so that the import's writeback is not charged to what follows. Sets
# server_pid, endpoint and image_id.
serve_and_import() {
  local image=$1 region=$2 bucket=$3 name=$4 result
  export FERRY_ACCESS_KEY_ID=BENCH$(random_hex 6)
  export FERRY_ACCESS_KEY_SECRET=$(random_hex 15)
  export FERRY_CONFIG_DIR=$work/config
  mkdir -p "$work/data/oss/$bucket"
  "$ferry" serve --listen 127.0.0.1:0 --admin-listen off --data "$work/data" --regions "$region" \
    --ready-file "$work/ready.json" >"$work/ferry.log" 2>&1 &
  server_pid=$!
  wait_ready "$work/ready.json" "$server_pid" "$work/ferry.log"
  endpoint=$(json_field "$work/ready.json" endpoint)
  ln "$image" "$work/data/oss/$bucket/disk.raw" 2>/dev/null || cp --sparse=always "$image" "$work/data/oss/$bucket/disk.raw"
  log "ImportImage (untimed)"
  result=$(node "$repo_dir/bench/bench_client.js" import "$endpoint" "$region" "$bucket" disk.raw "$name")
  image_id=$(node -p "JSON.parse(process.argv[1]).imageId" "$result")
  rm -f "$work/data/oss/$bucket/disk.raw"
  sync
}

# make_version2 IMAGE IMAGE_V2 PERCENT: a sparse copy of IMAGE with PERCENT% of
# its 4 MiB blocks overwritten with random data, evenly spaced over the whole
# disk. Sets blocks and changed (block counts).
make_version2() {
  local image=$1 image_v2=$2 percent=$3 stride i
  cp --sparse=always "$image" "$image_v2"
  blocks=$(($(stat -c %s "$image") / CHUNK_BYTES))
  changed=$((blocks * percent / 100))
  ((changed >= 1)) || changed=1
  stride=$((blocks / changed))
  for ((i = 0; i < changed; i++)); do
    dd if=/dev/urandom of="$image_v2" bs=$CHUNK_BYTES count=1 seek=$((i * stride + stride / 2)) \
      conv=notrunc status=none
  done
  sync
}

# metric_value NAME REGION < METRICS: a per-region counter from the text of
# /metrics on stdin (0 when absent).
metric_value() {
  # %.0f: awk prints large numbers as 4.36e+09 otherwise.
  awk -v name="$1" -v region="$2" '$1 == name "{region=\"" region "\"}" { v = $2 } END { printf "%.0f\n", v + 0 }'
}

# random_hex BYTES: BYTES random bytes as hex.
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# start_bench_ceph PORT: a throwaway Ceph cluster in $work/ceph, one OSD on
# bluestore (a sparse file in the work directory, so objects go to disk) and
# a RADOS Gateway on 127.0.0.1:PORT, stopped by stop_bench_ceph. Sets
# endpoint, exports its keys (AWS_* and AWS_SHARED_CREDENTIALS_FILE, for
# `ferry serve --store`), writes $work/s3cfg for s3 (s3cmd with it).
start_bench_ceph() {
  local port=$1
  endpoint=$(FERRY_CEPH_OBJECTSTORE=bluestore "$repo_dir/scripts/throwaway-ceph.sh" start "$work/ceph" "$port")
  export AWS_SHARED_CREDENTIALS_FILE=$work/ceph/credentials
  set -a
  # shellcheck disable=SC1091
  . "$work/ceph/s3.env"
  set +a
  printf '[default]\naccess_key = %s\nsecret_key = %s\nhost_base = 127.0.0.1:%s\nhost_bucket = 127.0.0.1:%s\nuse_https = False\nsignature_v2 = False\n' \
    "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$port" "$port" >"$work/s3cfg"
}
s3() { s3cmd -q -c "$work/s3cfg" "$@"; }
stop_bench_ceph() { "$repo_dir/scripts/throwaway-ceph.sh" stop "$work/ceph"; }

# make_distinct_images N MIB NAME: $work/NAME-1.raw .. NAME-N.raw, each MIB MiB
# of random data (incompressible: every chunk travels at full size) whose
# 4 MiB blocks start with the image's number, so no two images share a chunk.
make_distinct_images() {
  local n=$1 mib=$2 name=$3 i b blocks
  blocks=$(((mib * 1024 * 1024 + CHUNK_BYTES - 1) / CHUNK_BYTES))
  head -c $((mib * 1024 * 1024)) /dev/urandom >"$work/$name-base.raw"
  for ((i = 1; i <= n; i++)); do
    cp "$work/$name-base.raw" "$work/$name-$i.raw"
    for ((b = 0; b < blocks; b++)); do
      printf 'ferry bench image %s %06d block %06d' "$name" "$i" "$b" |
        dd of="$work/$name-$i.raw" bs=1 seek=$((b * CHUNK_BYTES)) conv=notrunc status=none
    done
  done
  rm -f "$work/$name-base.raw"
}
