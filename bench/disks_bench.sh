#!/usr/bin/env bash
# Disks benchmark: creating N disks from one image through the disks layer
# (src/region/disks) against one sparse copy of the image, in the same run.
#
#   bench/disks_bench.sh [--size-gib N] [--disks N] [--dir DIR] [--keep]
#
#   --size-gib N   logical size of the raw image (default 2); half of it (at most
#                  1 GiB) holds files in an ext4 file system, as import_bench.sh
#   --disks N      disks to create from it (default 100)
#   --dir DIR      work directory (default bench/out); a real disk, not tmpfs
#   --keep         keep the work directory afterwards
#
# Needs: build/bench/disks_bench_tool ($DISKS_BENCH_TOOL; `make build`), mkfs.ext4,
# rsync, qemu-img. Targets: bytes written <= 1.1 x one base file; time printed
# next to one `cp --sparse=always` of the image (+ sync) and next to the store's
# own MaterializeRawFile of the same manifest (the same chunk reads and checks).
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool=${DISKS_BENCH_TOOL:-$repo_dir/build/bench/disks_bench_tool}
size_gib=2
disks=100
work=$repo_dir/bench/out
keep=0
while (($#)); do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --disks) disks=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "disks_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done
data_mib=$((size_gib * 1024 / 2))
((data_mib > 1024)) && data_mib=1024
[[ -x "$tool" ]] || { echo "disks_bench: no driver at $tool (run make build)" >&2; exit 1; }
for t in mkfs.ext4 rsync qemu-img; do
  command -v "$t" >/dev/null || { echo "disks_bench: $t is missing" >&2; exit 1; }
done

bench_name=disks_bench
# shellcheck source=bench/common.sh
source "$repo_dir/bench/common.sh"

# --- 1. The image: ext4 with a mixed file tree, the rest of the disk free. ---
image=$work/disk.raw
log "building a ${size_gib} GiB ext4 image with ~${data_mib} MiB of files"
"$repo_dir/bench/make_tree.sh" "$work/tree" "$data_mib"
truncate -s "${size_gib}G" "$image"
mkfs.ext4 -q -F -L ferry-bench -d "$work/tree" "$image" >/dev/null
rm -rf "$work/tree"
image_bytes=$(stat -c %s "$image")
sync

# --- 2. Baseline: one durable sparse copy of the image. ---
log "baseline: cp --sparse=always + sync"
cp_secs=$(seconds_of sh -c "cp --sparse=always '$image' '$work/cp-copy' && sync '$work/cp-copy'")
copy_alloc=$(($(stat -c '%b * %B' "$work/cp-copy")))
rm -f "$work/cp-copy"
sync

# --- 3. N disks through the layer (the image is ingested first, untimed). ---
log "creating $disks disks of ${size_gib} GiB from the image"
out=$("$tool" "$work/layer" "$image" "$disks" "$image_bytes")
val() { printf '%s\n' "$out" | sed -n "s/^$1=//p"; }
create_secs=$(val create_secs)
first_secs=$(val first_disk_secs)
write_bytes=$(val write_bytes)
base_alloc=$(val base_alloc_bytes)
overlay_alloc=$(val overlay_alloc_bytes)
materialize_secs=$(val materialize_raw_secs)

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
row() { printf '%-52s %16s\n' "$1" "$2"; }
echo
row "image (logical)"                                   "$(mib "$image_bytes")"
row "baseline: cp --sparse=always + sync"               "$(printf '%.2f s' "$cp_secs")"
row "baseline: bytes allocated by the copy"             "$(mib "$copy_alloc")"
row "reference: MaterializeRawFile of the same manifest"  "$(printf '%.2f s' "$materialize_secs")"
row "$disks disks: wall time (first one: base)"         "$(printf '%.2f s (%.2f s)' "$create_secs" "$first_secs")"
row "$disks disks: base file allocated"                 "$(mib "$base_alloc")"
row "$disks disks: overlays allocated (all)"            "$(mib "$overlay_alloc")"
row "$disks disks: bytes written (/proc/self/io)"       "$(mib "$write_bytes")"
row "BYTES RATIO = written / base (target <= 1.10)"     "$(awk -v a="$write_bytes" -v b="$base_alloc" 'BEGIN { printf "%.3f", a / b }')"
row "ALLOC RATIO = (base + overlays) / base"            "$(awk -v a="$base_alloc" -v o="$overlay_alloc" 'BEGIN { printf "%.3f", (a + o) / a }')"
row "TIME RATIO = $disks disks / one cp"                "$(awk -v a="$create_secs" -v b="$cp_secs" 'BEGIN { printf "%.2f", a / b }')"
row "TIME RATIO = $disks disks / MaterializeRawFile"    "$(awk -v a="$create_secs" -v b="$materialize_secs" 'BEGIN { printf "%.2f", a / b }')"
