#!/usr/bin/env bash
# Disks benchmark (issue 9): RunInstances Amount=100 from one image through
# the API of a real `ferry serve`, against one sparse copy of the image, in
# the same run.
#
#   bench/disks_bench.sh [--size-gib N] [--amount N] [--dir DIR] [--keep]
#
#   --size-gib N   logical size of the raw image (default 2); half of it (at most
#                  1 GiB) holds files in an ext4 file system, as import_bench.sh
#   --amount N     instances in the one RunInstances call (default 100, at most 100)
#   --dir DIR      work directory (default bench/out); a real disk, not tmpfs
#   --keep         keep the work directory afterwards
#
# Targets: bytes written <= 1.1 x one base file; wall time printed next to one
# `cp --sparse=always` of the image (+ sync), and next to ExportImage of the
# image (the server's own reading of every chunk into a raw file: the work of
# the base file). Needs: the ferry binary ($FERRY_BIN or build/src/cli/ferry),
# mkfs.ext4, rsync, node.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
size_gib=2
amount=100
work=$repo_dir/bench/out
keep=0
while (($#)); do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --amount) amount=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "disks_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done
((amount >= 1 && amount <= 100)) || { echo "disks_bench: --amount must be 1 to 100 (one RunInstances)" >&2; exit 2; }
data_mib=$((size_gib * 1024 / 2))
((data_mib > 1024)) && data_mib=1024
[[ -x "$ferry" ]] || { echo "disks_bench: no ferry binary at $ferry (run make build)" >&2; exit 1; }
for t in mkfs.ext4 rsync node; do
  command -v "$t" >/dev/null || { echo "disks_bench: $t is missing" >&2; exit 1; }
done

bench_name=disks_bench
# shellcheck source=bench/common.sh
source "$repo_dir/bench/common.sh"
readonly REGION=cn-hangzhou BUCKET=bench

# Bytes allocated (st_blocks) by the files under a directory.
alloc_bytes() { find "$1" -type f -printf '%b\n' 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s * 512 }'; }
file_count() { find "$1" -type f 2>/dev/null | wc -l; }
# Bytes the server and its reaped children (qemu-img) have caused to be
# written, counted as pages are dirtied (so no sync is needed first).
server_write_bytes() { awk '/^write_bytes:/ { print $2 }' "/proc/$server_pid/io"; }

# --- 1. The image: ext4 with a mixed file tree, the rest of the disk free. ---
image=$work/disk.raw
log "building a ${size_gib} GiB ext4 image with ~${data_mib} MiB of files"
make_image "$image" "$size_gib" "$data_mib"

# --- 2. Baseline: one durable sparse copy of the image. ---
log "baseline: cp --sparse=always + sync"
cp_secs=$(seconds_of sh -c "cp --sparse=always '$image' '$work/cp-copy' && sync '$work/cp-copy'")
copy_alloc=$(alloc_bytes "$work/cp-copy")
rm -f "$work/cp-copy"
sync

# --- 3. Ferry on a free port; the image imported (untimed). ---
log "starting ferry serve"
serve_and_import "$image" "$REGION" "$BUCKET" bench-disks

# --- 4. Reference: ExportImage, the server reading every chunk into a raw file. ---
# Twice: the import wrote its chunks with O_DIRECT, so the first read of them
# comes from the disk; the second, timed, reads them from the page cache, as
# the base file will and as `cp` read the image.
export_image() {
  local result
  result=$(node "$repo_dir/bench/bench_client.js" export "$endpoint" "$REGION" "$image_id" "$BUCKET" "$1")
  rm -f "$work/data/oss/$BUCKET/$(node -p "JSON.parse(process.argv[1]).object" "$result")"
  sync
  node -p "JSON.parse(process.argv[1]).seconds" "$result"
}
log "reference: ExportImage (raw), once to read the chunks in, once timed"
cold_export_secs=$(export_image cold)
export_secs=$(export_image warm)

# --- 5. RunInstances Amount=N until every instance is Running. ---
disks_root=$work/data/regions/$REGION/disks
written_before=$(server_write_bytes)
log "RunInstances Amount=$amount until all are Running"
result=$(node "$repo_dir/bench/bench_client.js" run-instances "$endpoint" "$REGION" "$image_id" "$amount")
written=$(($(server_write_bytes) - written_before))
field() { node -p "JSON.parse(process.argv[1]).$1" "$result"; }
run_secs=$(field seconds)
request_secs=$(field requestSeconds)
first_secs=$(field firstSeconds)
disks_secs=$(field disksSeconds)
base_alloc=$(alloc_bytes "$disks_root/bases")
overlay_alloc=$(alloc_bytes "$disks_root/disks")
bases=$(file_count "$disks_root/bases")
overlays=$(file_count "$disks_root/disks")
rss=$(peak_rss_mib "$server_pid")
((bases == 1 && overlays == amount)) ||
  { echo "disks_bench: expected 1 base and $amount overlays, found $bases and $overlays" >&2; exit 1; }

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
secs() { printf '%.2f s' "$1"; }
row() { printf '  %-58s %18s\n' "$1" "$2"; }
printf '\n%s: %s GiB image (%s of data in non-zero chunks), RunInstances Amount=%s\n' "$bench_name" \
  "$size_gib" "$(mib "$data_bytes")" "$amount"
row "baseline: cp --sparse=always + sync"                 "$(secs "$cp_secs")"
row "baseline: bytes allocated by the copy"               "$(mib "$copy_alloc")"
row "reference: ExportImage of the image (raw), chunks cold" "$(secs "$cold_export_secs")"
row "reference: ExportImage of the image (raw), chunks warm" "$(secs "$export_secs")"
row "RunInstances: answered (instances and disks recorded)" "$(secs "$request_secs")"
row "RunInstances: first instance out of Pending (base)"  "$(secs "$first_secs")"
row "RunInstances: every disk made"                       "$(secs "$disks_secs")"
row "RunInstances: every instance Running"                "$(secs "$run_secs")"
row "base file allocated"                                 "$(mib "$base_alloc")"
row "$amount overlays allocated (all)"                    "$(mib "$overlay_alloc")"
row "bytes written by the server (/proc/PID/io)"          "$(mib "$written")"
row "server peak RSS"                                     "$rss MiB"
row "BYTES RATIO = written / base (target <= 1.10)"       "$(awk -v a="$written" -v b="$base_alloc" 'BEGIN { printf "%.3f", a / b }')"
row "ALLOC RATIO = (base + overlays) / base"              "$(awk -v a="$base_alloc" -v o="$overlay_alloc" 'BEGIN { printf "%.3f", (a + o) / a }')"
row "TIME RATIO = all Running / one cp"                   "$(ratio "$run_secs" "$cp_secs")"
row "TIME RATIO = every disk made / one cp"               "$(ratio "$disks_secs" "$cp_secs")"
row "TIME RATIO = every disk made / ExportImage"          "$(ratio "$disks_secs" "$export_secs")"
