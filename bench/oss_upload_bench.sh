#!/usr/bin/env bash
# OSS upload benchmark: how close does an `ali-oss` multipartUpload into
# Ferry's OSS endpoint come to writing the same bytes to the same disk with cp?
#
#   bench/oss_upload_bench.sh [--size-gib N] [--data-mib M] [--part-mib P] [--dir DIR] [--keep]
#
#   --size-gib N   size of the raw image (default 2)
#   --data-mib M   bytes of files in its ext4 file system (default: half the image,
#                  at most 1024), a realistic disk
#   --part-mib P   multipart part size (default 16; ali-oss's own default is 1)
#   --dir DIR      work directory (default bench/out); must be on a real disk, not tmpfs
#   --keep         keep the work directory afterwards
#
# The ceiling is `cp` of the image to the same file system followed by a sync
# of the copy (every byte written, as the upload writes every byte: OSS has no
# holes). Needs: the ferry binary ($FERRY_BIN or build/src/cli/ferry),
# mkfs.ext4, rsync, node with tests/e2e's node_modules (ali-oss).
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
size_gib=2
data_mib=
part_mib=16
work=$repo_dir/bench/out
keep=0
while (($#)); do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --data-mib) data_mib=$2; shift 2 ;;
    --part-mib) part_mib=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "oss_upload_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if [[ -z "$data_mib" ]]; then
  data_mib=$((size_gib * 1024 / 2))
  ((data_mib > 1024)) && data_mib=1024
fi
[[ -x "$ferry" ]] || { echo "oss_upload_bench: no ferry binary at $ferry (run make build)" >&2; exit 1; }
for tool in mkfs.ext4 rsync node; do
  command -v "$tool" >/dev/null || { echo "oss_upload_bench: $tool is missing" >&2; exit 1; }
done
[[ -d "$repo_dir/tests/e2e/node_modules/ali-oss" ]] ||
  { echo "oss_upload_bench: ali-oss is missing (cd tests/e2e && npm ci)" >&2; exit 1; }

REGION=cn-hangzhou
BUCKET=bench

bench_name=oss_upload_bench
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

# --- 2. The ceiling: the same bytes written to the same disk by cp, synced. ---
log "ceiling: cp of the image (every byte) + sync"
cp_secs=$(seconds_of sh -c "cp --sparse=never '$image' '$work/cp-copy' && sync '$work/cp-copy'")
rm -f "$work/cp-copy"
sync

# --- 3. Ferry: serve on free ports with a data dir on the same disk. ---
log "starting ferry serve"
export FERRY_ACCESS_KEY_ID=BENCH$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
export FERRY_ACCESS_KEY_SECRET=$(od -An -N15 -tx1 /dev/urandom | tr -d ' \n')
export FERRY_CONFIG_DIR=$work/config
"$ferry" serve --listen 127.0.0.1:0 --admin-listen off --oss-listen 127.0.0.1:0 --data "$work/data" \
  --regions "$REGION" --ready-file "$work/ready.json" >"$work/ferry.log" 2>&1 &
server_pid=$!
wait_ready "$work/ready.json" "$server_pid" "$work/ferry.log"
oss_endpoint=$(node -p "JSON.parse(require('fs').readFileSync('$work/ready.json', 'utf8')).oss_endpoint")

log "ali-oss multipartUpload (${size_gib} GiB, ${part_mib} MiB parts) to $oss_endpoint"
upload_secs=$(NODE_PATH="$repo_dir/tests/e2e/node_modules" node -e '
const OSS = require("ali-oss");
const [endpoint, bucket, file, partMib] = process.argv.slice(1);
(async () => {
  const client = new OSS({ endpoint, sldEnable: true, bucket, timeout: 600000,
    accessKeyId: process.env.FERRY_ACCESS_KEY_ID, accessKeySecret: process.env.FERRY_ACCESS_KEY_SECRET });
  await client.putBucket(bucket);
  const start = process.hrtime.bigint();
  await client.multipartUpload("disk.raw", file, { partSize: Number(partMib) * 1048576, parallel: 4 });
  console.log(Number(process.hrtime.bigint() - start) / 1e9);
})().catch((err) => { console.error(err); process.exit(1); });
' "$oss_endpoint" "$BUCKET" "$image" "$part_mib")
peak_rss_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status")
stored=$(stat -c %s "$work/data/oss/$BUCKET/disk.raw")
((stored == image_bytes)) || { echo "oss_upload_bench: stored $stored bytes, expected $image_bytes" >&2; exit 1; }
cmp -s "$image" "$work/data/oss/$BUCKET/disk.raw" || { echo "oss_upload_bench: the stored object differs" >&2; exit 1; }

row() { printf '  %-46s %s\n' "$1" "$2"; }
echo
echo "OSS upload benchmark: ${size_gib} GiB ext4 image (~${data_mib} MiB of files), ${part_mib} MiB parts, 4 in parallel"
row "ali-oss multipartUpload into Ferry"            "$(printf '%.2f s' "$upload_secs") ($(mib_per_s "$image_bytes" "$upload_secs") MiB/s)"
row "cp of the same bytes + sync (ceiling)"         "$(printf '%.2f s' "$cp_secs") ($(mib_per_s "$image_bytes" "$cp_secs") MiB/s)"
row "RATIO = upload time / cp time"                 "$(ratio "$upload_secs" "$cp_secs")"
row "peak RSS of ferry serve (VmHWM)"               "$(awk -v k="$peak_rss_kib" 'BEGIN { printf "%.0f MiB", k / 1024 }')"
