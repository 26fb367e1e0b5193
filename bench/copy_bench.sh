#!/usr/bin/env bash
# Copy benchmark, first cut: CopyImage between two regions served by ONE ferry
# process (the destination still pulls chunks over the peer protocol, on
# loopback HTTP), against rsync and the machine's ceiling for the same image.
#
#   bench/copy_bench.sh [--size-gib N] [--data-mib M] [--dir DIR] [--keep]
#
#   --size-gib N   logical size of the raw image (default 2)
#   --data-mib M   bytes of files put in its ext4 file system (default: half the image,
#                  at most 1024)
#   --dir DIR      work directory (default bench/out-copy); must be on a real disk, not tmpfs
#   --keep         keep the work directory afterwards
#
# B1: a full copy of a fresh image to an empty region, against `rsync --sparse`
#     and min(disk, SHA-256). B2: 2% of the 4 MiB blocks rewritten, imported as
#     version 2 and copied to the region that holds version 1, against B1 and
#     `rsync --sparse --no-whole-file` onto a copy of version 1.
#
# Needs: the ferry binary ($FERRY_BIN or build/src/cli/ferry), mkfs.ext4, rsync,
# openssl, node.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
size_gib=2
data_mib=
work=$repo_dir/bench/out-copy
keep=0
while (($#)); do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --data-mib) data_mib=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "copy_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if [[ -z "$data_mib" ]]; then
  data_mib=$((size_gib * 1024 / 2))
  ((data_mib > 1024)) && data_mib=1024
fi
[[ -x "$ferry" ]] || { echo "copy_bench: no ferry binary at $ferry (run make build)" >&2; exit 1; }
for tool in mkfs.ext4 rsync openssl node dd curl; do
  command -v "$tool" >/dev/null || { echo "copy_bench: $tool is missing" >&2; exit 1; }
done

MiB=$((1024 * 1024))
CHUNK=$((4 * MiB))
SOURCE=cn-hangzhou
DEST=cn-shanghai
BUCKET=bench
CHANGED_PERCENT=2

bench_name=copy_bench
# shellcheck source=bench/common.sh
source "$repo_dir/bench/common.sh"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# chunk_usage REGION: "<files> <bytes>" of the chunks a region stores.
chunk_usage() {
  local dir=$work/data/regions/$1/chunks
  [[ -d "$dir" ]] || { echo "0 0"; return; }
  find "$dir" -type f -not -path "$dir/tmp/*" -printf '%s\n' | awk '{ n++; sum += $1 } END { print n + 0, sum + 0 }'
}
# metric_sum NAME REGION: a region counter from /metrics (0 when absent).
metric_sum() {
  curl -fsS "$endpoint/metrics" |
    awk -v name="$1" -v region="$2" '$1 == name "{region=\"" region "\"}" { v = $2 } END { print v + 0 }'
}

# --- 1. The image: ext4 with a mixed file tree, the rest of the disk free. ---
image=$work/disk.raw
log "building a ${size_gib} GiB ext4 image with ~${data_mib} MiB of files"
"$repo_dir/bench/make_tree.sh" "$work/tree" "$data_mib"
files=$(find "$work/tree" -type f | wc -l)
truncate -s "${size_gib}G" "$image"
mkfs.ext4 -q -F -L ferry-bench -d "$work/tree" "$image" >/dev/null
rm -rf "$work/tree"
image_bytes=$(stat -c %s "$image")
# Non-zero 4 MiB chunks (untimed): what the SHA-256 term is scaled by.
dd if="$image" of="$work/dd-sparse" bs=$CHUNK conv=sparse status=none
data_bytes=$(($(stat -c '%b * %B' "$work/dd-sparse")))
rm -f "$work/dd-sparse"
sync

# --- 2. The ceiling, measured on the same bytes in the same run. ---
# Disk: a durable sparse copy of the image on the same disk. A copy reads
# chunks from one region's store and writes them to another's; with no
# hashing, no compression and no HTTP that is cp + sync.
log "ceiling: disk (sparse copy of the image + sync)"
disk_secs=$(seconds_of sh -c "cp --sparse=always '$image' '$work/cp-copy' && sync '$work/cp-copy'")
rm -f "$work/cp-copy"
disk_bps=$(awk -v b="$image_bytes" -v s="$disk_secs" 'BEGIN { print b / s }')
# CPU: the destination verifies every chunk it receives (SHA-256 of the
# plaintext). Chunks travel compressed as stored, so zstd is not a term here
# (decompression to verify is several times faster than SHA-256).
log "ceiling: SHA-256"
sha_raw=$(openssl speed -evp sha256 -seconds 2 -bytes $CHUNK 2>/dev/null | awk '/^sha256/ { sub(/k$/, "", $NF); print $NF * 1000 }')
sha_bps=$(awk -v r="$sha_raw" -v i="$image_bytes" -v d="$data_bytes" 'BEGIN { print r * i / d }')
ceiling_bps=$(printf '%s\n' "$disk_bps" "$sha_bps" | sort -g | head -1)

# rsync B1: the whole image into an empty directory on the same disk.
log "rsync --sparse (full copy)"
mkdir -p "$work/rsync-b1"
sync
rsync_b1_secs=$(seconds_of sh -c "rsync --sparse '$image' '$work/rsync-b1/' && sync '$work/rsync-b1/disk.raw'")

# --- 3. Version 2: CHANGED_PERCENT% of the 4 MiB blocks rewritten in place,
# at evenly spaced offsets across the whole disk. ---
image_v2=$work/disk-v2.raw
cp --sparse=always "$image" "$image_v2"
blocks=$((image_bytes / CHUNK))
changed=$((blocks * CHANGED_PERCENT / 100))
((changed >= 1)) || changed=1
stride=$((blocks / changed))
for ((i = 0; i < changed; i++)); do
  dd if=/dev/urandom of="$image_v2" bs=$CHUNK count=1 seek=$((i * stride + stride / 2)) conv=notrunc status=none
done
sync

# rsync B2: delta transfer of version 2 onto a copy of version 1 (which B1
# left). --ignore-times: the copy may carry the same size and mtime second as
# version 2, and rsync would then skip the file without comparing it.
log "rsync --sparse --no-whole-file (delta onto version 1)"
mkdir -p "$work/rsync-b2"
mv "$work/rsync-b1/disk.raw" "$work/rsync-b2/disk.raw"
sync
rsync_b2_secs=$(seconds_of sh -c "rsync --sparse --no-whole-file --ignore-times --stats '$image_v2' '$work/rsync-b2/disk.raw' >'$work/rsync-b2.stats' && sync '$work/rsync-b2/disk.raw'")
rsync_b2_literal=$(awk -F': ' '/^Literal data/ { gsub(/[^0-9]/, "", $2); print $2 }' "$work/rsync-b2.stats")
rm -rf "$work/rsync-b1" "$work/rsync-b2"

# --- 4. Ferry: one process serving both regions, data dir on the same disk. ---
log "starting ferry serve ($SOURCE, $DEST)"
export FERRY_ACCESS_KEY_ID=BENCH$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
export FERRY_ACCESS_KEY_SECRET=$(od -An -N15 -tx1 /dev/urandom | tr -d ' \n')
export FERRY_CONFIG_DIR=$work/config
mkdir -p "$work/data/oss/$BUCKET"
"$ferry" serve --listen 127.0.0.1:0 --data "$work/data" --regions "$SOURCE,$DEST" \
  --ready-file "$work/ready.json" >"$work/ferry.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
  [[ -s "$work/ready.json" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "copy_bench: ferry exited; log:" >&2; tail -20 "$work/ferry.log" >&2; exit 1; }
  sleep 0.1
done
[[ -s "$work/ready.json" ]] || { echo "copy_bench: ferry not ready after 30 s" >&2; exit 1; }
endpoint=$(node -p "JSON.parse(require('fs').readFileSync('$work/ready.json', 'utf8')).endpoint")
client() { node "$repo_dir/bench/bench_client.js" "$@"; }
field() { node -p "JSON.parse(process.argv[1]).$1" "$2"; }

# Hard links put the images in the bucket without copying them.
ln "$image" "$work/data/oss/$BUCKET/disk.raw" 2>/dev/null || cp --sparse=always "$image" "$work/data/oss/$BUCKET/disk.raw"
ln "$image_v2" "$work/data/oss/$BUCKET/disk-v2.raw" 2>/dev/null || cp --sparse=always "$image_v2" "$work/data/oss/$BUCKET/disk-v2.raw"

log "ImportImage version 1 into $SOURCE (untimed)"
v1_id=$(field imageId "$(client import "$endpoint" "$SOURCE" "$BUCKET" disk.raw bench-v1)")
log "ImportImage version 2 into $SOURCE (untimed)"
v2_id=$(field imageId "$(client import "$endpoint" "$SOURCE" "$BUCKET" disk-v2.raw bench-v2)")
read -r source_files source_bytes < <(chunk_usage "$SOURCE")

# B1: full copy into an empty region.
sync
log "B1: CopyImage $v1_id $SOURCE -> $DEST"
b1_secs=$(field seconds "$(client copy "$endpoint" "$SOURCE" "$DEST" "$v1_id" bench-v1-copy)")
read -r b1_files b1_bytes < <(chunk_usage "$DEST")
b1_bps=$(awk -v b="$image_bytes" -v s="$b1_secs" 'BEGIN { print b / s }')

# B2: version 2 into the region that holds version 1's chunks.
metric_names=$(curl -fsS "$endpoint/metrics" | awk '/^ferry_region_.*(chunk|bytes).*\{region=/ { sub(/\{.*/, "", $1); print $1 }' | sort -u)
declare -A before
for name in $metric_names; do before[$name]=$(metric_sum "$name" "$DEST"); done
sync
log "B2: CopyImage $v2_id $SOURCE -> $DEST (version 1 already there)"
b2_secs=$(field seconds "$(client copy "$endpoint" "$SOURCE" "$DEST" "$v2_id" bench-v2-copy)")
read -r b2_files b2_bytes < <(chunk_usage "$DEST")
metric_deltas=
for name in $metric_names; do
  delta=$(($(metric_sum "$name" "$DEST") - before[$name]))
  if ((delta != 0)); then metric_deltas+="${name#ferry_region_}=+$delta "; fi
done
peak_rss_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status")

# --- 5. Report. ---
row() { printf '%-50s %16s\n' "$1" "$2"; }
echo
echo "Ferry copy benchmark, one process, two regions ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r))"
row "image: ${size_gib} GiB ext4, $files files"           "$(mib_per_s "$image_bytes" 1) MiB"
row "  in non-zero 4 MiB chunks"                        "$(mib_per_s "$data_bytes" 1) MiB"
row "  stored in $SOURCE (v1 + v2, zstd, deduplicated)" "$(mib_per_s "$source_bytes" 1) MiB"
echo "------------------------------------------------------------------------------"
row "B1: CopyImage -> Available in $DEST"               "$(printf '%.2f s' "$b1_secs")"
row "B1 throughput (logical)"                           "$(mib_per_s "$b1_bps" 1) MiB/s"
row "B1 chunks added in $DEST"                          "$b1_files ($(mib_per_s "$b1_bytes" 1) MiB)"
row "rsync --sparse + sync"                             "$(printf '%.2f s' "$rsync_b1_secs")"
row "SPEEDUP = rsync time / B1 time"                    "$(ratio "$rsync_b1_secs" "$b1_secs")"
row "disk: sparse copy + sync (cp)"                     "$(mib_per_s "$disk_bps" 1) MiB/s"
row "SHA-256 (openssl, 4 MiB, 1 core, scaled)"          "$(mib_per_s "$sha_bps" 1) MiB/s"
row "ceiling = min(disk, SHA-256)"                      "$(mib_per_s "$ceiling_bps" 1) MiB/s"
row "RATIO = B1 throughput / ceiling"                   "$(ratio "$b1_bps" "$ceiling_bps")"
echo "------------------------------------------------------------------------------"
row "B2: $changed of $blocks blocks rewritten (${CHANGED_PERCENT}%)" "$((changed * 4)) MiB"
row "B2: CopyImage v2 -> Available (v1 in $DEST)"       "$(printf '%.2f s' "$b2_secs")"
row "B2 / B1 time (target <= 0.10)"                     "$(ratio "$b2_secs" "$b1_secs")"
row "B2 chunks added in $DEST"                          "$((b2_files - b1_files)) ($(mib_per_s $((b2_bytes - b1_bytes)) 1) MiB)"
row "B2 /metrics deltas in $DEST"                       "${metric_deltas:-none}"
row "rsync --sparse --no-whole-file + sync"             "$(printf '%.2f s' "$rsync_b2_secs")"
row "  rsync literal data sent"                         "$(mib_per_s "${rsync_b2_literal:-0}" 1) MiB"
row "B2 speedup = rsync time / B2 time"                 "$(ratio "$rsync_b2_secs" "$b2_secs")"
row "peak RSS of ferry serve (VmHWM)"                   "$(awk -v k="$peak_rss_kib" 'BEGIN { printf "%.0f MiB", k / 1024 }')"
echo
echo "Rates are logical image bytes per second. The SHA-256 rate is openssl's raw speed scaled"
echo "by image bytes / non-zero chunk bytes (only those are verified). Both regions live in one"
echo "ferry process; the destination pulls chunks from the source over loopback HTTP."
