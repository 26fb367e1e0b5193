#!/usr/bin/env bash
# Copy benchmarks B1, B2 and B4: CopyImage between two ferry processes on
# loopback (one region each; the destination pulls chunks from the source over
# the peer protocol), against rsync and against the machine's ceiling for the
# same image, all measured in the same run.
#
#   bench/copy_bench.sh [--size-gib N] [--data-mib M] [--dir DIR] [--keep]
#                       [--one-process] [--b4] [--copies N [--copy-data-mib M]]
#
#   --size-gib N    logical size of the raw image (default 2)
#   --data-mib M    bytes of files in its ext4 file system (default: half the image, at most 1024)
#   --dir DIR       work directory (default bench/out-copy); a real disk, not tmpfs
#   --keep          keep the work directory afterwards
#   --one-process   both regions in one `ferry serve --regions a,b` (the first cut)
#   --b4            memory only: import and copy once, report both processes' peak RSS
#                   (VmHWM) against the 256 MiB limit; no rsync, ceiling or B2.
#                   Meant for `--size-gib 20`.
#   --copies N      memory under many copies: N distinct images of M MiB of random
#                   data each (default 64; no chunk shared between them), all N
#                   CopyImage calls queued at once (max_copies run, the rest wait);
#                   reports both processes' peak RSS (VmHWM) against 256 MiB.
#                   Settings reach the servers through the environment
#                   (FERRY_MAX_COPIES, FERRY_COPY_BUFFER_MIB, ...).
#
# B1: a full copy of a fresh image to an empty region, against `rsync --sparse`
#     (target: >= 4 x faster), against `cp --sparse=always` + sync of the same
#     image (target: <= 0.8 x its time), and min(disk, SHA-256, link). B2: 2% of the 4 MiB blocks rewritten,
#     imported as version 2 and copied to the region that holds version 1,
#     against B1 and `rsync --sparse --no-whole-file` onto a copy of version 1.
#
# Needs: the ferry binary ($FERRY_BIN or build/src/cli/ferry), mkfs.ext4, rsync,
# openssl, node, curl.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
size_gib=2
data_mib=
work=$repo_dir/bench/out-copy
keep=0
one_process=0
b4=0
copies=0
copy_data_mib=64
while (($#)); do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --data-mib) data_mib=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --one-process) one_process=1; shift ;;
    --b4) b4=1; shift ;;
    --copies) copies=$2; shift 2 ;;
    --copy-data-mib) copy_data_mib=$2; shift 2 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "copy_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if ((copies > 0)); then
  b4=1  # memory only, like B4
  [[ "$copy_data_mib" =~ ^[1-9][0-9]*$ ]] || { echo "copy_bench: --copy-data-mib wants a positive integer" >&2; exit 2; }
fi
if [[ -z "$data_mib" ]]; then
  data_mib=$((size_gib * 1024 / 2))
  ((data_mib > 1024)) && data_mib=1024
fi
[[ -x "$ferry" ]] || { echo "copy_bench: no ferry binary at $ferry (run make build)" >&2; exit 1; }
for tool in mkfs.ext4 rsync openssl node dd curl; do
  command -v "$tool" >/dev/null || { echo "copy_bench: $tool is missing" >&2; exit 1; }
done
if ((!one_process)) && ! "$ferry" serve --help 2>&1 | grep -q -- '--peer'; then
  echo "copy_bench: $ferry serve has no --peer option; use --one-process" >&2
  exit 1
fi

SOURCE=cn-hangzhou
DEST=cn-shanghai
BUCKET=bench
CHANGED_PERCENT=2
RSS_LIMIT_MIB=256

bench_name=copy_bench
# shellcheck source=bench/common.sh
source "$repo_dir/bench/common.sh"
if ((one_process)); then
  src_data=$work/data dst_data=$work/data
else
  src_data=$work/src dst_data=$work/dst
fi
# chunk_usage DATA REGION: "<files> <bytes>" of the chunks a region stores.
chunk_usage() {
  local dir=$1/regions/$2/chunks
  [[ -d "$dir" ]] || { echo "0 0"; return; }
  find "$dir" -type f -not -path "$dir/tmp/*" -printf '%s\n' | awk '{ n++; sum += $1 } END { print n + 0, sum + 0 }'
}
client() { node "$repo_dir/bench/bench_client.js" "$@"; }
field() { node -p "JSON.parse(process.argv[1]).$1" "$2"; }
load_now() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load_now)

# --- 1. The images (untimed). ---
image=$work/disk.raw
image_v2=$work/disk-v2.raw
# make_copy_images N MIB: disk-1.raw .. disk-N.raw in $work, each MIB MiB of
# random data (incompressible: every chunk travels at full size) whose 4 MiB
# blocks start with the image's number, so no two images share a chunk.
make_copy_images() {
  make_distinct_images "$1" "$2" disk
  image_bytes=$(($2 * 1024 * 1024)) data_bytes=$image_bytes files=0
}

if ((copies > 0)); then
  log "building $copies images of $copy_data_mib MiB of random data each"
  make_copy_images "$copies" "$copy_data_mib"
else
  log "building a ${size_gib} GiB ext4 image with ~${data_mib} MiB of files"
  make_image "$image" "$size_gib" "$data_mib"
fi
((b4)) || make_version2 "$image" "$image_v2" "$CHANGED_PERCENT"

if ((!b4)); then
  # --- 2. The ceiling terms, on the same bytes, in the same run. ---
  # Disk: a copy reads chunks from one region's store and writes them to
  # another's; with no hashing, no compression and no HTTP that is cp + sync.
  log "ceiling: disk (sparse copy of the image + sync)"
  disk_secs=$(seconds_of sh -c "cp --sparse=always '$image' '$work/cp-copy' && sync '$work/cp-copy'")
  rm -f "$work/cp-copy"
  disk_bps=$(awk -v b="$image_bytes" -v s="$disk_secs" 'BEGIN { print b / s }')
  # CPU: the destination verifies every chunk it receives: SHA-256 of the
  # object as stored (compressed), checked against the object digest in the
  # signed manifest, with no decoding (store/chunk_format.md, "Object
  # digest"). Scaled to logical bytes with the stored size of version 1, below.
  log "ceiling: SHA-256"
  sha_raw=$(openssl speed -evp sha256 -seconds 2 -bytes $CHUNK_BYTES 2>/dev/null |
    awk '/^sha256/ { sub(/k$/, "", $NF); print $NF * 1000 }')
  # Link: bulk TCP between two processes on loopback (scaled to logical bytes
  # once the stored size of version 1 is known, below).
  log "ceiling: loopback TCP between two processes"
  read -r probe_port < <(free_ports 1)
  node "$repo_dir/bench/tcp_probe.js" server --listen "127.0.0.1:$probe_port" \
    --ready-file "$work/probe.ready" >"$work/probe.log" 2>&1 &
  probe_pid=$!
  track_pid "$probe_pid"
  wait_ready "$work/probe.ready" "$probe_pid" "$work/probe.log"
  link_probe=$(node "$repo_dir/bench/tcp_probe.js" rate --connect "127.0.0.1:$probe_port" --bytes $((1024 * 1024 * 1024)))
  stop_pid "$probe_pid"
  link_raw_bps=$(awk -v b="$(field bitsPerSecond "$link_probe")" 'BEGIN { print b / 8 }')

  # rsync B1: the whole image into an empty directory on the same disk.
  log "rsync --sparse (full copy)"
  mkdir -p "$work/rsync-b1"
  sync
  rsync_b1_secs=$(seconds_of sh -c "rsync --sparse '$image' '$work/rsync-b1/' && sync '$work/rsync-b1/disk.raw'")
  # rsync B2: delta transfer of version 2 onto B1's copy of version 1.
  # --ignore-times: the copy may carry the same size and mtime second as
  # version 2, and rsync would then skip the file without comparing it.
  log "rsync --sparse --no-whole-file (delta onto version 1)"
  mkdir -p "$work/rsync-b2"
  mv "$work/rsync-b1/disk.raw" "$work/rsync-b2/disk.raw"
  sync
  rsync_b2_secs=$(seconds_of sh -c "rsync --sparse --no-whole-file --ignore-times --stats '$image_v2' '$work/rsync-b2/disk.raw' >'$work/rsync-b2.stats' && sync '$work/rsync-b2/disk.raw'")
  rsync_b2_literal=$(awk -F': ' '/^Literal data/ { gsub(/[^0-9]/, "", $2); print $2 }' "$work/rsync-b2.stats")
  rm -rf "$work/rsync-b1" "$work/rsync-b2"
fi

# --- 3. Ferry: two processes (or one), data directories on the same disk. ---
export FERRY_ACCESS_KEY_ID=BENCH$(random_hex 6)
export FERRY_ACCESS_KEY_SECRET=$(random_hex 15)
mkdir -p "$src_data/oss/$BUCKET" "$dst_data"
# Hard links put the images in the bucket without copying them.
if ((copies > 0)); then
  for ((i = 1; i <= copies; i++)); do mv "$work/disk-$i.raw" "$src_data/oss/$BUCKET/disk-$i.raw"; done
  # N imports and N copies at once count against the per-account task quota.
  export FERRY_QUOTA_RUNNING_TASKS=0
else
  ln "$image" "$src_data/oss/$BUCKET/disk.raw"
fi
((b4)) || ln "$image_v2" "$src_data/oss/$BUCKET/disk-v2.raw"
if ((one_process)); then
  log "starting one ferry serve ($SOURCE, $DEST)"
  FERRY_CONFIG_DIR=$work/config "$ferry" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --data "$src_data" \
    --regions "$SOURCE,$DEST" --ready-file "$work/src.ready" >"$work/ferry-src.log" 2>&1 &
  src_pid=$!
  track_pid "$src_pid"
  wait_ready "$work/src.ready" "$src_pid" "$work/ferry-src.log"
  dst_pid=$src_pid
  src_endpoint=$(json_field "$work/src.ready" endpoint)
  dst_endpoint=$src_endpoint
  dst_admin=$(json_field "$work/src.ready" admin_endpoint)
else
  # Each process must name the other's URL at start, so the ports are picked first.
  read -r src_port dst_port < <(free_ports 2)
  # The cluster key in the environment, never on the command line.
  export FERRY_CLUSTER_KEY=$(random_hex 16)
  log "starting ferry serve $SOURCE on :$src_port and $DEST on :$dst_port"
  FERRY_CONFIG_DIR=$work/src/config "$ferry" serve --listen "127.0.0.1:$src_port" --admin-listen 127.0.0.1:0 --data "$src_data" \
    --region "$SOURCE" --peer "$DEST=http://127.0.0.1:$dst_port" \
    --ready-file "$work/src.ready" >"$work/ferry-src.log" 2>&1 &
  src_pid=$!
  track_pid "$src_pid"
  FERRY_CONFIG_DIR=$work/dst/config "$ferry" serve --listen "127.0.0.1:$dst_port" --admin-listen 127.0.0.1:0 --data "$dst_data" \
    --region "$DEST" --peer "$SOURCE=http://127.0.0.1:$src_port" \
    --ready-file "$work/dst.ready" >"$work/ferry-dst.log" 2>&1 &
  dst_pid=$!
  track_pid "$dst_pid"
  wait_ready "$work/src.ready" "$src_pid" "$work/ferry-src.log"
  wait_ready "$work/dst.ready" "$dst_pid" "$work/ferry-dst.log"
  src_endpoint=$(json_field "$work/src.ready" endpoint)
  dst_endpoint=$(json_field "$work/dst.ready" endpoint)
  dst_admin=$(json_field "$work/dst.ready" admin_endpoint)
fi
# Counters are on the operator's listener only.
dst_metric() { curl -fsS "$dst_admin/metrics" | metric_value "$1" "$DEST"; }

if ((copies > 0)); then
  log "ImportImage x $copies into $SOURCE (untimed)"
  copy_ids=()
  for ((i = 1; i <= copies; i++)); do
    copy_ids+=("$(field imageId "$(client import "$src_endpoint" "$SOURCE" "$BUCKET" "disk-$i.raw" "bench-$i")")")
    rm -f "$src_data/oss/$BUCKET/disk-$i.raw"
  done
else
  v1_id=$(field imageId "$(client import "$src_endpoint" "$SOURCE" "$BUCKET" disk.raw bench-v1)")
fi
read -r _ v1_stored_bytes < <(chunk_usage "$src_data" "$SOURCE")
if ((!b4)); then
  log "ImportImage version 2 into $SOURCE (untimed)"
  v2_id=$(field imageId "$(client import "$src_endpoint" "$SOURCE" "$BUCKET" disk-v2.raw bench-v2)")
fi
read -r _ source_bytes < <(chunk_usage "$src_data" "$SOURCE")
src_rss_before_copy=$(peak_rss_mib "$src_pid")

# copy_timed IMAGE_ID NAME: CopyImage sent to the destination's process (which
# forwards it to the source's) until the copy is Available in $DEST. Sets
# copy_secs and wire_bytes (chunk bytes the destination received).
copy_timed() {
  local wire_before
  wire_before=$(dst_metric ferry_region_copy_bytes_received_total)
  sync
  copy_secs=$(field seconds "$(client copy "$dst_endpoint" "$SOURCE" "$DEST" "$1" "$2")")
  wire_bytes=$(($(dst_metric ferry_region_copy_bytes_received_total) - wire_before))
}

if ((copies > 0)); then
  log "CopyImage x $copies $SOURCE -> $DEST, all queued at once"
  wire_before=$(dst_metric ferry_region_copy_bytes_received_total)
  many_secs=$(field seconds "$(client copy-many "$dst_endpoint" "$SOURCE" "$DEST" bench-copy "${copy_ids[@]}")")
  many_wire=$(($(dst_metric ferry_region_copy_bytes_received_total) - wire_before))
  read -r many_files many_bytes < <(chunk_usage "$dst_data" "$DEST")
  src_rss=$(peak_rss_mib "$src_pid")
  dst_rss=$(peak_rss_mib "$dst_pid")
  row() { printf '%-52s %20s\n' "$1" "$2"; }
  mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }
  echo
  echo "Ferry copy benchmark, $copies copies queued at once ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r))"
  echo "load average (1, 5, 15 min): $load_start at start, $(load_now) at end"
  echo "settings: max_copies=${FERRY_MAX_COPIES:-default} copy_in_flight=${FERRY_COPY_IN_FLIGHT:-default}" \
    "copy_buffer_mib=${FERRY_COPY_BUFFER_MIB:-default}"
  row "images: $copies x random data"                      "$copy_data_mib MiB each"
  row "all $copies copies Available in $DEST"               "$(printf '%.2f s' "$many_secs")"
  row "chunks in $DEST"                                     "$many_files ($(mib "$many_bytes"))"
  row "chunk bytes received (/metrics)"                     "$(mib "$many_wire")"
  row "peak RSS, source process (VmHWM)"                    "$src_rss MiB"
  row "  of which before the copies (imports)"              "$src_rss_before_copy MiB"
  row "peak RSS, destination process (VmHWM)"               "$dst_rss MiB"
  worst=$((src_rss > dst_rss ? src_rss : dst_rss))
  row "both under $RSS_LIMIT_MIB MiB" "$(awk -v v="$worst" -v l="$RSS_LIMIT_MIB" 'BEGIN { print (v <= l) ? "yes" : "NO" }')"
  exit 0
fi

# cpu_secs PID: user + system CPU seconds the process has used so far.
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
log "B1: CopyImage $v1_id $SOURCE -> $DEST"
src_cpu_before=$(cpu_secs "$src_pid") dst_cpu_before=$(cpu_secs "$dst_pid")
copy_timed "$v1_id" bench-v1-copy
b1_secs=$copy_secs b1_wire=$wire_bytes
# CPU the copy cost each process: less at the mercy of other load than the time.
b1_src_cpu=$(awk -v a="$(cpu_secs "$src_pid")" -v b="$src_cpu_before" 'BEGIN { printf "%.2f", a - b }')
b1_dst_cpu=$(awk -v a="$(cpu_secs "$dst_pid")" -v b="$dst_cpu_before" 'BEGIN { printf "%.2f", a - b }')
read -r b1_files b1_bytes < <(chunk_usage "$dst_data" "$DEST")
b1_bps=$(awk -v b="$image_bytes" -v s="$b1_secs" 'BEGIN { print b / s }')
if ((!b4)); then
  log "B2: CopyImage $v2_id $SOURCE -> $DEST (version 1 already there)"
  copy_timed "$v2_id" bench-v2-copy
  b2_secs=$copy_secs b2_wire=$wire_bytes
  read -r b2_files b2_bytes < <(chunk_usage "$dst_data" "$DEST")
fi
src_rss=$(peak_rss_mib "$src_pid")
dst_rss=$(peak_rss_mib "$dst_pid")
load_end=$(load_now)

# --- 4. Report. ---
row() { printf '%-52s %20s\n' "$1" "$2"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }
within() { awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l) ? "yes" : "NO" }'; }
if ((one_process)); then mode="one process serving both regions"; else mode="two processes on loopback"; fi
echo
echo "Ferry copy benchmark, $mode ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r))"
echo "load average (1, 5, 15 min): $load_start at start, $load_end at end"
row "image: ${size_gib} GiB ext4, $files files"             "$(mib "$image_bytes")"
row "  in non-zero 4 MiB chunks"                          "$(mib "$data_bytes")"
row "  version 1 stored in $SOURCE (zstd)"                "$(mib "$v1_stored_bytes")"
echo "------------------------------------------------------------------------------"
row "B1: CopyImage -> Available in $DEST"                 "$(printf '%.2f s' "$b1_secs")"
row "B1 throughput (logical)"                             "$(mib_per_s "$b1_bps" 1) MiB/s"
row "B1 chunks added in $DEST"                            "$b1_files ($(mib "$b1_bytes"))"
row "B1 chunk bytes received (/metrics)"                  "$(mib "$b1_wire")"
if ((one_process)); then
  row "B1 CPU of ferry serve (user + sys)"                "$b1_dst_cpu s"
else
  row "B1 CPU, source / destination process (user + sys)" "$b1_src_cpu s / $b1_dst_cpu s"
fi
if ((!b4)); then
  link_bps=$(awk -v r="$link_raw_bps" -v i="$image_bytes" -v w="$v1_stored_bytes" 'BEGIN { print r * i / w }')
  sha_bps=$(awk -v r="$sha_raw" -v i="$image_bytes" -v w="$v1_stored_bytes" 'BEGIN { print r * i / w }')
  ceiling_bps=$(printf '%s\n' "$disk_bps" "$sha_bps" "$link_bps" | sort -g | head -1)
  row "rsync --sparse + sync"                             "$(printf '%.2f s' "$rsync_b1_secs")"
  row "SPEEDUP = rsync time / B1 time (>= 4)"             "$(ratio "$rsync_b1_secs" "$b1_secs")"
  row "cp --sparse=always + sync"                         "$(printf '%.2f s' "$disk_secs")"
  row "CP RATIO = B1 time / cp time (<= 0.80)"            "$(ratio "$b1_secs" "$disk_secs")"
  row "disk: sparse copy + sync (cp)"                     "$(mib_per_s "$disk_bps" 1) MiB/s"
  row "SHA-256 (openssl, 4 MiB, 1 core, scaled)"          "$(mib_per_s "$sha_bps" 1) MiB/s"
  row "link: loopback TCP $(mib_per_s "$link_raw_bps" 1) MiB/s, scaled"  "$(mib_per_s "$link_bps" 1) MiB/s"
  row "ceiling = min(disk, SHA-256, link)"                "$(mib_per_s "$ceiling_bps" 1) MiB/s"
  row "RATIO = B1 throughput / ceiling (>= 0.70)"         "$(ratio "$b1_bps" "$ceiling_bps")"
  echo "------------------------------------------------------------------------------"
  row "B2: $changed of $blocks blocks rewritten (${CHANGED_PERCENT}%)" "$(mib $((changed * CHUNK_BYTES)))"
  row "B2: CopyImage v2 -> Available (v1 in $DEST)"       "$(printf '%.2f s' "$b2_secs")"
  row "B2 / B1 time (<= 0.10)"                            "$(ratio "$b2_secs" "$b1_secs")"
  row "B2 chunks added in $DEST"                          "$((b2_files - b1_files)) ($(mib $((b2_bytes - b1_bytes))))"
  row "B2 chunk bytes received (/metrics)"                "$(mib "$b2_wire")"
  row "B2 bytes / changed blocks (<= 1.20)"               "$(ratio "$b2_wire" $((changed * CHUNK_BYTES)))"
  row "rsync --sparse --no-whole-file + sync"             "$(printf '%.2f s' "$rsync_b2_secs")"
  row "  rsync literal data sent"                         "$(mib "${rsync_b2_literal:-0}")"
  row "B2 speedup = rsync time / B2 time"                 "$(ratio "$rsync_b2_secs" "$b2_secs")"
fi
echo "------------------------------------------------------------------------------"
if ((one_process)); then
  row "peak RSS of ferry serve (VmHWM)"                   "$dst_rss MiB"
else
  row "peak RSS, source process (VmHWM)"                  "$src_rss MiB"
  row "  of which before the copies (imports)"            "$src_rss_before_copy MiB"
  row "peak RSS, destination process (VmHWM)"             "$dst_rss MiB"
fi
row "both under $RSS_LIMIT_MIB MiB (B4)" "$(within "$((src_rss > dst_rss ? src_rss : dst_rss))" "$RSS_LIMIT_MIB")"
echo
echo "Rates are logical image bytes per second. SHA-256 and the link term are scaled by image"
echo "bytes / stored bytes of version 1: chunks travel compressed, as stored, and are verified"
echo "by the SHA-256 of those bytes (the object digests of the manifest the source signed)."
