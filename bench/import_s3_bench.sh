#!/usr/bin/env bash
# Import into an S3 store on Ceph (issue 13): `ferry image import` of the
# realistic image (upload through the OSS endpoint into the region's bucket,
# all-zero parts not sent, then ImportImage until Available) with `ferry
# serve --store s3://...` on a throwaway Ceph cluster (bluestore on a file,
# so objects go to disk), next to what a user would do without Ferry: upload
# the raw file into the same gateway with s3cmd (multipart) and with one
# curl PUT, each twice (the better run counts). The ImportImage alone is
# reported too. Then the same on a node
# whose catalog is in PostgreSQL, which pins every chunk it touches in the
# catalog (what nodes sharing the store need for their GC).
#
#   bench/import_s3_bench.sh [--size-gib N] [--data-mib M] [--dir DIR] [--keep]
#
#   --size-gib N   logical size of the raw image (default 2)
#   --data-mib M   bytes of files in its ext4 file system (default: half, at most 1024)
#   --dir DIR      work directory (default bench/out-s3); on a real disk, not tmpfs
#   --keep         keep the work directory afterwards
#
# Needs: the ferry binary ($FERRY_BIN or build/src/cli/ferry), Debian's ceph
# and postgresql packages (scripts/install-deps.sh), s3cmd, curl, mkfs.ext4, node.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
size_gib=2
data_mib=
work=$repo_dir/bench/out-s3
keep=0
while (($#)); do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --data-mib) data_mib=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "import_s3_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if [[ -z "$data_mib" ]]; then
  data_mib=$((size_gib * 1024 / 2))
  ((data_mib > 1024)) && data_mib=1024
fi
[[ -x "$ferry" ]] || { echo "import_s3_bench: no ferry binary at $ferry (run make build)" >&2; exit 1; }
for tool in mkfs.ext4 s3cmd curl node sha256sum psql; do
  command -v "$tool" >/dev/null || { echo "import_s3_bench: $tool is missing (apt-get install s3cmd for s3cmd)" >&2; exit 1; }
done

REGION=cn-hangzhou
BUCKET=bench
CEPH_PORT=${FERRY_BENCH_CEPH_PORT:-8300}

bench_name=import_s3_bench
# shellcheck source=bench/common.sh
source "$repo_dir/bench/common.sh"
bench_cleanup_extra() {
  stop_bench_ceph
  "$repo_dir/scripts/throwaway-postgres.sh" stop "$work/pg"
}

# --- 1. The image, as bench/import_bench.sh builds it. ---
image=$work/disk.raw
log "building a ${size_gib} GiB ext4 image with ~${data_mib} MiB of files"
"$repo_dir/bench/make_tree.sh" "$work/tree" "$data_mib"
truncate -s "${size_gib}G" "$image"
mkfs.ext4 -q -F -L ferry-bench -d "$work/tree" "$image" >/dev/null
rm -rf "$work/tree"
image_bytes=$(stat -c %s "$image")
sync

# --- 2. Ceph: one OSD on bluestore (a sparse file in the work dir) + RGW. ---
log "starting a throwaway Ceph cluster (bluestore on a file)"
start_bench_ceph "$CEPH_PORT"
s3 mb s3://raw
s3 mb s3://ferry-chunks

# --- 3. The anchors (the raw file into the same gateway) and Ferry, each
# twice, interleaved: s3cmd, curl, ferry, then again. The better of each
# one's two runs counts: what the gateway still does in the background after
# a run (bluestore flushing, the deleted objects) lands on whichever comes
# next, and one run alone varied by 40 % from one bench run to the next. ---
s3 mb s3://ferry-chunks-2
FERRY_ACCESS_KEY_ID=BENCH$(random_hex 6)
FERRY_ACCESS_KEY_SECRET=$(random_hex 15)
export FERRY_ACCESS_KEY_ID FERRY_ACCESS_KEY_SECRET FERRY_CONFIG_DIR=$work/config
# ferry_import READY_FILE NAME: `ferry image import` of the image through that
# server (upload + ImportImage + wait); prints "SECONDS IMAGE_ID".
ferry_import() {
  local api oss t0 t1 id
  api=$(json_field "$1" endpoint)
  oss=$(json_field "$1" oss_endpoint)
  t0=$(date +%s.%N)
  id=$(FERRY_ENDPOINT=$api FERRY_OSS_ENDPOINT=$oss FERRY_REGION=$REGION "$ferry" image import "$image" \
    --name "$2" --format RAW --bucket "$BUCKET" --query ImageId)
  t1=$(date +%s.%N)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $id"
}
# start_ferry N BUCKET: `ferry serve --store s3://BUCKET` (data in $work/data-N)
start_ferry() {
  "$ferry" serve --listen 127.0.0.1:0 --oss-listen 127.0.0.1:0 --data "$work/data-$1" --region "$REGION" \
    --store "s3://$2?endpoint=$endpoint" --ready-file "$work/ready-$1.json" >"$work/ferry-$1.log" 2>&1 &
  server_pid=$!
  wait_ready "$work/ready-$1.json" "$server_pid" "$work/ferry-$1.log"
}
s3cmd_runs=() curl_runs=() import_runs=()
for round in 1 2; do
  log "round $round: s3cmd put (multipart, 15 MiB parts)"
  s3cmd_runs+=("$(seconds_of s3 put "$image" s3://raw/disk.raw)")
  s3 del s3://raw/disk.raw
  log "round $round: curl --aws-sigv4 -T (one PUT)"
  curl_runs+=("$(seconds_of curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -T "$image" "$endpoint/raw/disk.raw")")
  s3 del s3://raw/disk.raw
  # Each round into a bucket of its own: nothing of the first is reused.
  chunks_bucket=ferry-chunks
  ((round == 2)) && chunks_bucket=ferry-chunks-2
  log "round $round: ferry image import (${size_gib} GiB) into s3://$chunks_bucket: upload + ImportImage"
  start_ferry "$round" "$chunks_bucket"
  read -r secs id < <(ferry_import "$work/ready-$round.json" "bench-import-$round")
  import_runs+=("$secs")
  if ((round == 1)); then
    # The first server stays for the checks below.
    first_pid=$server_pid image_id=$id
    track_pid "$first_pid"
    peak_rss_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status")
  else
    stop_pid "$server_pid"
  fi
  server_pid=$first_pid
done
better() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a < b ? a : b) }'; }
s3cmd_secs=$(better "${s3cmd_runs[@]}")
curl_secs=$(better "${curl_runs[@]}")
import_secs=$(better "${import_runs[@]}")
ferry_endpoint=$(json_field "$work/ready-1.json" endpoint)
oss_endpoint=$(json_field "$work/ready-1.json" oss_endpoint)
read -r chunk_objects chunk_bytes < <(s3cmd -c "$work/s3cfg" ls -r s3://ferry-chunks/chunks/ |
  awk '{ n++; sum += $3 } END { print n + 0, sum + 0 }')
((chunk_objects > 0)) || { echo "import_s3_bench: no chunk objects in s3://ferry-chunks/chunks/" >&2; exit 1; }

# ImportImage alone, of an object already in the region's bucket (ferry oss
# cp, not timed): its 16 MiB parts are not chunks, so the import reads it
# back and ingests it; its chunks the first round stored (dedup).
FERRY_ENDPOINT=$ferry_endpoint FERRY_OSS_ENDPOINT=$oss_endpoint "$ferry" oss cp "$image" "oss://$BUCKET/disk.raw" >/dev/null
log "ImportImage (${size_gib} GiB) of an object already in the bucket"
result=$(node "$repo_dir/bench/bench_client.js" import "$ferry_endpoint" "$REGION" "$BUCKET" disk.raw bench-again)
reimport_secs=$(node -p "JSON.parse(process.argv[1]).seconds" "$result")

# The bytes are the image's: exported back and compared (not timed).
log "export and compare (not timed)"
exported=$(node "$repo_dir/bench/bench_client.js" export "$ferry_endpoint" "$REGION" "$image_id" "$BUCKET" check)
object=$(node -p "JSON.parse(process.argv[1]).object" "$exported")
FERRY_ENDPOINT=$ferry_endpoint FERRY_OSS_ENDPOINT=$oss_endpoint "$ferry" oss cp "oss://$BUCKET/$object" "$work/exported.raw" >/dev/null
[[ "$(sha256sum <"$work/exported.raw")" == "$(sha256sum <"$image")" ]] ||
  { echo "import_s3_bench: the exported image differs from the source" >&2; exit 1; }
rm -f "$work/exported.raw"
stop_pid "$server_pid"
server_pid=

# --- 4b. The same import on a node of a region on several machines: its
# catalog in PostgreSQL (durable), so every chunk it touches is pinned in the
# catalog (src/region/gc_with_nodes.md) - into a fresh bucket. ---
log "starting a throwaway PostgreSQL; ferry serve --catalog postgresql://... --store s3://ferry-chunks-pg"
pg_uri=$(FERRY_PG_DURABLE=1 "$repo_dir/scripts/throwaway-postgres.sh" start "$work/pg")
s3 mb s3://ferry-chunks-pg
"$ferry" serve --listen 127.0.0.1:0 --oss-listen 127.0.0.1:0 --data "$work/data-pg" --region "$REGION" \
  --catalog "$pg_uri" --store "s3://ferry-chunks-pg?endpoint=$endpoint" --ready-file "$work/ready-pg.json" \
  >"$work/ferry-pg.log" 2>&1 &
server_pid=$!
wait_ready "$work/ready-pg.json" "$server_pid" "$work/ferry-pg.log"
log "ferry image import (${size_gib} GiB), catalog in PostgreSQL"
read -r pg_import_secs _ < <(ferry_import "$work/ready-pg.json" bench-import)
pins_taken=$(grep -c . < <(psql -At "$pg_uri" -c "SELECT 1 FROM chunk_pins" 2>/dev/null) || true)

# --- 5. Report. ---
row() { printf '%-52s %14s\n' "$1" "$2"; }
echo
echo "Ferry import into an S3 store on Ceph ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r))"
row "image: ${size_gib} GiB ext4"                          "$(mib_per_s "$image_bytes" 1) MiB"
row "  stored by ferry: $chunk_objects chunk objects"       "$(mib_per_s "$chunk_bytes" 1) MiB"
echo "------------------------------------------------------------------------------"
echo "each the better of two runs (both in brackets)"
row "s3cmd put of the raw file (${s3cmd_runs[*]})"          "$(printf '%.2f s' "$s3cmd_secs")"
row "curl -T, one PUT (${curl_runs[*]})"                    "$(printf '%.2f s' "$curl_secs")"
row "ferry image import (${import_runs[*]})"                "$(printf '%.2f s' "$import_secs")"
row "RATIO = s3cmd / ferry (target >= 1.5)"               "$(awk -v a="$s3cmd_secs" -v b="$import_secs" 'BEGIN { printf "%.2f", a / b }')"
row "ratio = curl / ferry"                                 "$(awk -v a="$curl_secs" -v b="$import_secs" 'BEGIN { printf "%.2f", a / b }')"
row "peak RSS of ferry serve (VmHWM; target < 256 MiB)"   "$(awk -v k="$peak_rss_kib" 'BEGIN { printf "%.0f MiB", k / 1024 }')"
row "ImportImage alone, 16 MiB parts read back, deduped"   "$(printf '%.2f s' "$reimport_secs")"
row "ferry image import, catalog in PostgreSQL (pins)"    "$(printf '%.2f s' "$pg_import_secs")"
row "ratio = PostgreSQL / SQLite catalog"                  "$(awk -v a="$pg_import_secs" -v b="$import_secs" 'BEGIN { printf "%.2f", a / b }')"
row "  chunk pins left in the catalog after the import"    "$pins_taken"
echo
echo "The anchors upload every byte of the raw file. ferry image import sends the 4 MiB parts that"
echo "hold data (all-zero parts go as a header); the server keeps each part as a chunk (SHA-256,"
echo "zstd, stored once), so the gateway gets the compressed bytes, and ImportImage takes the chunks"
echo "as they are (it reads only the ones the inspector needs). ImportImage alone reads back an"
echo "object of 16 MiB parts (ferry oss cp) and ingests it: the path of any other upload."
