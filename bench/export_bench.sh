#!/usr/bin/env bash
# Export benchmark (issue 12): ExportImage (raw) of a large sparse image
# through the API of a real `ferry serve`, against `cp --sparse=always` + sync
# of the same raw file, in the same run.
#
#   bench/export_bench.sh [--size-gib N] [--data-mib M] [--runs R] [--verify] [--dir DIR] [--keep]
#
#   --size-gib N   logical size of the raw image (default 600)
#   --data-mib M   bytes of files put in its ext4 file system (default 1024)
#   --runs R       timed (cp, export) pairs, alternated (default 1); each pair
#                  prints its ratio, the summary takes the medians
#   --profile      record the server with `perf record -g` during the last
#                  timed export, into DIR/perf.data (implies --keep)
#   --verify       also compare the exported object with the image byte for
#                  byte (reads every hole: minutes for 600 GiB)
#   --dir DIR      work directory (default bench/out); a real disk, not tmpfs
#   --keep         keep the work directory afterwards
#
# Targets: ExportImage <= 1.5 x (cp --sparse=always + sync) in time; the
# exported object allocates <= 1.1 x what the image does. Both copies read
# warm sources: the image was just written by mkfs, and the chunks are read
# once by an untimed cold export first (the import wrote them with O_DIRECT).
# Needs: the ferry binary ($FERRY_BIN or build/src/cli/ferry), mkfs.ext4,
# rsync, node.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
size_gib=600
data_mib=1024
runs=1
verify=0
profile=0
work=$repo_dir/bench/out
keep=0
while (($#)); do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --data-mib) data_mib=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --verify) verify=1; shift ;;
    --profile) profile=1; keep=1; shift ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "export_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[[ "$size_gib" =~ ^[1-9][0-9]*$ && "$data_mib" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ ]] ||
  { echo "export_bench: --size-gib, --data-mib and --runs are positive integers" >&2; exit 2; }
((data_mib < size_gib * 1024 * 3 / 4)) ||
  { echo "export_bench: --data-mib must leave room for the file system in --size-gib" >&2; exit 2; }
[[ -x "$ferry" ]] || { echo "export_bench: no ferry binary at $ferry (run make build)" >&2; exit 1; }
for t in mkfs.ext4 rsync node; do
  command -v "$t" >/dev/null || { echo "export_bench: $t is missing" >&2; exit 1; }
done

bench_name=export_bench
# shellcheck source=bench/common.sh
source "$repo_dir/bench/common.sh"
readonly REGION=cn-hangzhou BUCKET=bench

alloc_bytes() { echo $(($(stat -c '%b * %B' "$1"))); }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
secs() { printf '%.2f s' "$1"; }
# CPU seconds (user + system) the server has used so far.
server_cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$server_pid/stat"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- 1. The image: ext4 with a mixed file tree, the rest of the disk free. ---
# Not make_image: its dd over every hole would read 600 GiB of zeros.
image=$work/disk.raw
log "building a ${size_gib} GiB ext4 image with ~${data_mib} MiB of files"
make_ext4_image "$image" "$size_gib" "$data_mib"
image_alloc=$(alloc_bytes "$image")
sync

# --- 2. Ferry on a free port; the image imported (untimed). ---
log "starting ferry serve"
serve_and_import "$image" "$REGION" "$BUCKET" bench-export

# --- 3. The timed pairs. ---
# export_image PREFIX: one ExportImage (raw) until its task is Finished; sets
# $took (seconds) and $exported (the object's path).
export_image() {
  local result
  result=$(node "$repo_dir/bench/bench_client.js" export "$endpoint" "$REGION" "$image_id" "$BUCKET" "$1")
  exported=$work/data/oss/$BUCKET/$(node -p "JSON.parse(process.argv[1]).object" "$result")
  [[ -f "$exported" ]] || { echo "export_bench: no exported object at $exported" >&2; exit 1; }
  took=$(node -p "JSON.parse(process.argv[1]).seconds" "$result")
}
drop_export() { rm -f "$exported"; sync; }

log "ExportImage (raw), chunks cold (untimed for the ratio)"
export_image cold
cold_secs=$took
drop_export

cp_times=() export_times=() export_cpu=()
for ((r = 1; r <= runs; r++)); do
  log "run $r/$runs: cp --sparse=always + sync"
  cp_times+=("$(seconds_of sh -c "cp --sparse=always '$image' '$work/cp-copy' && sync '$work/cp-copy'")")
  copy_alloc=$(alloc_bytes "$work/cp-copy")
  rm -f "$work/cp-copy"
  sync
  log "run $r/$runs: ExportImage (raw)"
  perf_pid=
  if ((profile == 1 && r == runs)); then
    perf record -g -o "$work/perf.data" -p "$server_pid" >"$work/perf.log" 2>&1 &
    perf_pid=$!
    track_pid "$perf_pid"
    sleep 1
  fi
  cpu_before=$(server_cpu_secs)
  export_image "run$r"
  export_cpu+=("$(awk -v a="$(server_cpu_secs)" -v b="$cpu_before" 'BEGIN { print a - b }')")
  if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  export_times+=("$took")
  export_alloc=$(alloc_bytes "$exported")
  export_size=$(stat -c %s "$exported")
  ((export_size == image_bytes)) ||
    { echo "export_bench: the export holds $export_size bytes, the image $image_bytes" >&2; exit 1; }
  if ((verify == 1 && r == runs)); then
    log "verifying the exported object against the image (cmp)"
    cmp "$image" "$exported" || { echo "export_bench: the export differs from the image" >&2; exit 1; }
  fi
  drop_export
done
rss=$(peak_rss_mib "$server_pid")
cp_secs=$(printf '%s\n' "${cp_times[@]}" | median)
export_secs=$(printf '%s\n' "${export_times[@]}" | median)
cpu_secs=$(printf '%s\n' "${export_cpu[@]}" | median)

# --- 4. Report. ---
row() { printf '  %-58s %18s\n' "$1" "$2"; }
printf '\n%s (%s, %s cores, load %s): %s GiB ext4 image, %s files\n' "$bench_name" \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$size_gib" "$files"
for ((r = 0; r < runs; r++)); do
  row "run $((r + 1)): cp + sync / ExportImage" \
    "$(secs "${cp_times[$r]}") / $(secs "${export_times[$r]}") = $(ratio "${export_times[$r]}" "${cp_times[$r]}")"
done
row "baseline: cp --sparse=always + sync"                  "$(secs "$cp_secs")"
row "ExportImage (raw), chunks warm"                       "$(secs "$export_secs")"
row "ExportImage (raw), chunks cold (first export)"        "$(secs "$cold_secs")"
row "server CPU during ExportImage (user + system)"        "$(secs "$cpu_secs")"
row "source image allocated"                               "$(mib "$image_alloc")"
row "cp copy allocated"                                    "$(mib "$copy_alloc")"
row "exported object allocated"                            "$(mib "$export_alloc")"
row "server peak RSS (VmHWM)"                              "$rss MiB"
row "TIME RATIO = ExportImage / cp (target <= 1.5)"        "$(ratio "$export_secs" "$cp_secs")"
row "ALLOC RATIO = export / source (target <= 1.1)"        "$(awk -v a="$export_alloc" -v b="$image_alloc" 'BEGIN { printf "%.3f", a / b }')"
row "alloc ratio = export / cp copy"                       "$(awk -v a="$export_alloc" -v b="$copy_alloc" 'BEGIN { printf "%.3f", a / b }')"
