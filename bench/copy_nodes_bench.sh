#!/usr/bin/env bash
# Copies into a region on several nodes (issue 13): the destination region's
# catalog in PostgreSQL and its chunks in a Ceph bucket (bluestore on a file),
# the source one `ferry serve` with its own disk. Measured in one run:
#
#   1. One CopyImage of the realistic image (ext4, make_tree.sh) into the S3
#      store, next to what a user would do without Ferry: `s3cmd put` of the
#      raw file into the same gateway.
#   2. N distinct images copied at once into the destination with 1 node,
#      then, into a fresh database and bucket, with 2 nodes (the source names
#      both: `--peer R=URL` twice; new copies are spread over them). Each
#      node's peak RSS against the 256 MiB limit.
#
#   bench/copy_nodes_bench.sh [--size-gib N] [--data-mib M] [--copies N]
#                             [--copy-data-mib M] [--dir DIR] [--keep]
#
#   --size-gib N       logical size of the realistic image (default 2)
#   --data-mib M       bytes of files in it (default: half, at most 1024)
#   --copies N         images copied at once in part 2 (default 4)
#   --copy-data-mib M  MiB of random data in each (default 512; no chunk shared)
#   --dir DIR          work directory (default bench/out-copy-nodes); a real disk
#   --keep             keep the work directory afterwards
#
# Needs: the ferry binary ($FERRY_BIN or build/src/cli/ferry), Debian's ceph and
# postgresql packages (scripts/install-deps.sh), s3cmd, mkfs.ext4, node, curl.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
size_gib=2
data_mib=
copies=4
copy_data_mib=512
work=$repo_dir/bench/out-copy-nodes
keep=0
while (($#)); do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --data-mib) data_mib=$2; shift 2 ;;
    --copies) copies=$2; shift 2 ;;
    --copy-data-mib) copy_data_mib=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "copy_nodes_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if [[ -z "$data_mib" ]]; then
  data_mib=$((size_gib * 1024 / 2))
  ((data_mib > 1024)) && data_mib=1024
fi
[[ -x "$ferry" ]] || { echo "copy_nodes_bench: no ferry binary at $ferry (run make build)" >&2; exit 1; }
for tool in mkfs.ext4 s3cmd curl node psql; do
  command -v "$tool" >/dev/null || { echo "copy_nodes_bench: $tool is missing (apt-get install s3cmd for s3cmd)" >&2; exit 1; }
done

SOURCE=cn-hangzhou
DEST=cn-shanghai
BUCKET=bench
CEPH_PORT=${FERRY_BENCH_CEPH_PORT:-8400}

bench_name=copy_nodes_bench
# shellcheck source=bench/common.sh
source "$repo_dir/bench/common.sh"
bench_cleanup_extra() {
  stop_bench_ceph
  "$repo_dir/scripts/throwaway-postgres.sh" stop "$work/pg"
}
client() { node "$repo_dir/bench/bench_client.js" "$@"; }
field() { node -p "JSON.parse(process.argv[1])[process.argv[2]]" "$2" "$1"; }

# --- 1. The images (untimed). ---
log "building a ${size_gib} GiB ext4 image with ~${data_mib} MiB of files"
make_ext4_image "$work/disk.raw" "$size_gib" "$data_mib"
log "building $copies images of $copy_data_mib MiB of random data each"
make_distinct_images "$copies" "$copy_data_mib" many
sync

# --- 2. PostgreSQL, and Ceph with one OSD on bluestore (a file in $work). ---
log "starting a throwaway PostgreSQL and a throwaway Ceph cluster (bluestore on a file)"
FERRY_PG_DURABLE=1 "$repo_dir/scripts/throwaway-postgres.sh" start "$work/pg" >"$work/pg.uri"
pg_uri=$(cat "$work/pg.uri")
start_bench_ceph "$CEPH_PORT"
s3 mb s3://raw
for run in single one two; do
  s3 mb "s3://dst-$run"
  psql -q "$pg_uri" -c "CREATE DATABASE dst_$run" >/dev/null
done

# Twice, the better run counted: a fresh cluster's first writes are slower
# (bench/import_s3_bench.sh saw 31 s, then 18 s).
s3cmd_runs=()
for round in 1 2; do
  log "anchor: s3cmd put of the ${size_gib} GiB raw file (multipart, 15 MiB parts), run $round"
  s3cmd_runs+=("$(seconds_of s3 put "$work/disk.raw" s3://raw/disk.raw)")
  s3 del s3://raw/disk.raw
done
s3cmd_secs=$(awk -v a="${s3cmd_runs[0]}" -v b="${s3cmd_runs[1]}" 'BEGIN { printf "%.2f", (a < b ? a : b) }')

# --- 3. The source region: one node, its own disk. ---
FERRY_ACCESS_KEY_ID=BENCH$(random_hex 6)
FERRY_ACCESS_KEY_SECRET=$(random_hex 15)
FERRY_CLUSTER_KEY=$(random_hex 16)  # in the environment, never on a command line
export FERRY_ACCESS_KEY_ID FERRY_ACCESS_KEY_SECRET FERRY_CLUSTER_KEY FERRY_QUOTA_RUNNING_TASKS=0
src_data=$work/src/data
mkdir -p "$src_data/oss/$BUCKET"
read -r src_port d1_port d2_port < <(free_ports 3)
src_pid=
# start_source PEER_URL...: (re)starts the source naming those destination nodes.
start_source() {
  local peers=() url
  for url in "$@"; do peers+=(--peer "$DEST=$url"); done
  if [[ -n "$src_pid" ]]; then stop_pid "$src_pid"; fi
  rm -f "$work/src.ready"
  FERRY_CONFIG_DIR=$work/src/config "$ferry" serve --listen "127.0.0.1:$src_port" --admin-listen off \
    --data "$src_data" --region "$SOURCE" "${peers[@]}" \
    --ready-file "$work/src.ready" >>"$work/ferry-src.log" 2>&1 &
  src_pid=$!
  track_pid "$src_pid"
  wait_ready "$work/src.ready" "$src_pid" "$work/ferry-src.log"
}
# start_dest NAME PORT RUN: a destination node on PostgreSQL database dst_RUN
# and bucket dst-RUN; sets dest_pid.
start_dest() {
  local name=$1 port=$2 run=$3
  mkdir -p "$work/$name-$run/data"
  FERRY_CONFIG_DIR=$work/$name-$run/config "$ferry" serve --listen "127.0.0.1:$port" --admin-listen off \
    --data "$work/$name-$run/data" --region "$DEST" --peer "$SOURCE=http://127.0.0.1:$src_port" \
    --catalog "${pg_uri/\/postgres\?//dst_$run?}" --store "s3://dst-$run?endpoint=$endpoint" \
    --ready-file "$work/$name-$run.ready" >"$work/ferry-$name-$run.log" 2>&1 &
  dest_pid=$!
  track_pid "$dest_pid"
  wait_ready "$work/$name-$run.ready" "$dest_pid" "$work/ferry-$name-$run.log"
}
src_endpoint=http://127.0.0.1:$src_port

start_source "http://127.0.0.1:$d1_port"
log "ImportImage x $((copies + 1)) into $SOURCE (untimed)"
ln "$work/disk.raw" "$src_data/oss/$BUCKET/disk.raw"
big_id=$(field imageId "$(client import "$src_endpoint" "$SOURCE" "$BUCKET" disk.raw bench-big)")
many_ids=()
for ((i = 1; i <= copies; i++)); do
  mv "$work/many-$i.raw" "$src_data/oss/$BUCKET/many-$i.raw"
  many_ids+=("$(field imageId "$(client import "$src_endpoint" "$SOURCE" "$BUCKET" "many-$i.raw" "many-$i")")")
  rm -f "$src_data/oss/$BUCKET/many-$i.raw"
done
sync

# --- 4. One copy of the realistic image into the S3 store. ---
start_dest d1 "$d1_port" single
single_pid=$dest_pid
log "CopyImage of the ${size_gib} GiB image into $DEST (1 node, PostgreSQL + Ceph)"
single_secs=$(field seconds "$(client copy "$src_endpoint" "$SOURCE" "$DEST" "$big_id" bench-big-copy)")
single_rss=$(peak_rss_mib "$single_pid")
read -r single_objects single_bytes < <(s3cmd -c "$work/s3cfg" ls -r s3://dst-single/chunks/ |
  awk '{ n++; sum += $3 } END { print n + 0, sum + 0 }')
((single_objects > 0)) || { echo "copy_nodes_bench: no chunk objects in s3://dst-single" >&2; exit 1; }
stop_pid "$single_pid"

# --- 5. N copies at once: 1 destination node, then 2. ---
start_dest d1 "$d1_port" one
one_pid=$dest_pid
log "CopyImage x $copies at once into $DEST, 1 node"
one_secs=$(field seconds "$(client copy-many "$src_endpoint" "$SOURCE" "$DEST" one "${many_ids[@]}")")
one_rss=$(peak_rss_mib "$one_pid")
stop_pid "$one_pid"

start_dest d1 "$d1_port" two
two_a_pid=$dest_pid
start_dest d2 "$d2_port" two
two_b_pid=$dest_pid
start_source "http://127.0.0.1:$d1_port" "http://127.0.0.1:$d2_port"
log "CopyImage x $copies at once into $DEST, 2 nodes"
two_secs=$(field seconds "$(client copy-many "$src_endpoint" "$SOURCE" "$DEST" two "${many_ids[@]}")")
two_a_rss=$(peak_rss_mib "$two_a_pid")
two_b_rss=$(peak_rss_mib "$two_b_pid")
# Which node pulled what: each copy's end is logged by the node that ran it.
two_a_copies=$(grep -c ": copy finished task=" "$work/ferry-d1-two.log" || true)
two_b_copies=$(grep -c ": copy finished task=" "$work/ferry-d2-two.log" || true)

# --- 6. Report. ---
many_bytes=$((copies * copy_data_mib * 1024 * 1024))
row() { printf '%-60s %16s\n' "$1" "$2"; }
echo
echo "Ferry copies into a region on PostgreSQL + Ceph ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r))"
row "realistic image: ${size_gib} GiB ext4"                      "$(mib_per_s "$image_bytes" 1) MiB"
row "  stored in the destination: $single_objects chunk objects"   "$(mib_per_s "$single_bytes" 1) MiB"
echo "------------------------------------------------------------------------------"
row "s3cmd put of the raw file (better of ${s3cmd_runs[*]})"      "$(printf '%.2f s' "$s3cmd_secs")"
row "ferry CopyImage -> Available (1 node)"                       "$(printf '%.2f s' "$single_secs")"
row "RATIO = s3cmd / ferry copy (target >= 1.5)"                  "$(ratio "$s3cmd_secs" "$single_secs")"
row "peak RSS of the node (VmHWM; target < 256 MiB)"              "$single_rss MiB"
echo "------------------------------------------------------------------------------"
row "$copies images x $copy_data_mib MiB random data, copied at once" "$(mib_per_s "$many_bytes" 1) MiB"
row "1 destination node: all Available"                           "$(printf '%.2f s (%s MiB/s)' "$one_secs" "$(mib_per_s "$many_bytes" "$one_secs")")"
row "2 destination nodes: all Available"                          "$(printf '%.2f s (%s MiB/s)' "$two_secs" "$(mib_per_s "$many_bytes" "$two_secs")")"
row "ratio = 1 node / 2 nodes"                                    "$(ratio "$one_secs" "$two_secs")"
row "copies run by node 1 / node 2"                               "$two_a_copies / $two_b_copies"
row "peak RSS: 1 node; 2 nodes (each; target < 256 MiB)"          "$one_rss; $two_a_rss, $two_b_rss MiB"
echo
echo "All processes, PostgreSQL and Ceph share this machine's $(nproc) cores: a second node adds"
echo "pullers, not CPU. On separate machines each node brings its own cores and link."
