#!/usr/bin/env bash
# Instance image benchmark (issue 9): CreateImage from an instance whose
# system disk changed by a small fraction, against the ImportImage of the
# original image, in the same run.
#
#   bench/instance_image_bench.sh [--size-gib N] [--changed-pct P] [--dir DIR] [--keep]
#
#   --size-gib N     logical size of the raw image (default 2); half of it (at
#                    most 1 GiB) holds files in an ext4 file system
#   --changed-pct P  percent of the disk's 4 MiB chunks the "VM" writes into
#                    (default 2), 64 KiB in each, spread evenly over the image
#   --dir DIR        work directory (default bench/out); a real disk, not tmpfs
#   --keep           keep the work directory afterwards
#
# Targets: new chunks stored <= 1.2 x the chunks changed; CreateImage time
# <= 15 % of the original import. Needs: the ferry binary ($FERRY_BIN or
# build/src/cli/ferry), mkfs.ext4, rsync, qemu-io, node.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
size_gib=2
changed_pct=2
work=$repo_dir/bench/out
keep=0
while (($#)); do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --changed-pct) changed_pct=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "instance_image_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done
data_mib=$((size_gib * 1024 / 2))
((data_mib > 1024)) && data_mib=1024
[[ -x "$ferry" ]] || { echo "instance_image_bench: no ferry binary at $ferry (run make build)" >&2; exit 1; }
for t in mkfs.ext4 rsync qemu-io node; do
  command -v "$t" >/dev/null || { echo "instance_image_bench: $t is missing" >&2; exit 1; }
done

bench_name=instance_image_bench
# shellcheck source=bench/common.sh
source "$repo_dir/bench/common.sh"
readonly REGION=cn-hangzhou BUCKET=bench
readonly CHUNK=$((4 << 20))

# --- 1. The image: ext4 with a mixed file tree, the rest of the disk free. ---
image=$work/disk.raw
log "building a ${size_gib} GiB ext4 image with ~${data_mib} MiB of files"
"$repo_dir/bench/make_tree.sh" "$work/tree" "$data_mib"
truncate -s "${size_gib}G" "$image"
mkfs.ext4 -q -F -L ferry-bench -d "$work/tree" "$image" >/dev/null
rm -rf "$work/tree"
image_bytes=$(stat -c %s "$image")

# --- 2. Ferry on a free port, the image in a bucket. ---
log "starting ferry serve"
export FERRY_ACCESS_KEY_ID=BENCH$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
export FERRY_ACCESS_KEY_SECRET=$(od -An -N15 -tx1 /dev/urandom | tr -d ' \n')
export FERRY_CONFIG_DIR=$work/config
mkdir -p "$work/data/oss/$BUCKET"
"$ferry" serve --listen 127.0.0.1:0 --admin-listen off --data "$work/data" --regions "$REGION" \
  --ready-file "$work/ready.json" >"$work/ferry.log" 2>&1 &
server_pid=$!
wait_ready "$work/ready.json" "$server_pid" "$work/ferry.log"
endpoint=$(node -p "JSON.parse(require('fs').readFileSync('$work/ready.json', 'utf8')).endpoint")
ln "$image" "$work/data/oss/$BUCKET/disk.raw" 2>/dev/null || cp --sparse=always "$image" "$work/data/oss/$BUCKET/disk.raw"
chunks_dir=$work/data/regions/$REGION/chunks
count_chunks() { find "$chunks_dir" -type f -not -path "$chunks_dir/tmp/*" | wc -l; }

# --- 3. Baseline: the original import. ---
log "ImportImage (${size_gib} GiB)"
result=$(node "$repo_dir/bench/bench_client.js" import "$endpoint" "$REGION" "$BUCKET" disk.raw bench-original)
import_secs=$(node -p "JSON.parse(process.argv[1]).seconds" "$result")
image_id=$(node -p "JSON.parse(process.argv[1]).imageId" "$result")

# --- 4. An instance; its VM writes into changed_pct % of the chunks. ---
ferry_cli() { "$ferry" --endpoint "$endpoint" --access-key-id "$FERRY_ACCESS_KEY_ID" \
  --access-key-secret "$FERRY_ACCESS_KEY_SECRET" --region "$REGION" "$@"; }
log "RunInstances and a write into ${changed_pct} % of the disk's chunks"
ferry_cli instance run --image "$image_id" --wait >/dev/null
instance_id=$(ferry_cli instance list --output json | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].InstanceId))')
disk_id=$(ferry_cli disk list --output json | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].DiskId))')
qcow2=$("$ferry" disk path "$disk_id" --data "$work/data" --region "$REGION")
total_chunks=$((image_bytes / CHUNK))
changed=$(((total_chunks * changed_pct + 99) / 100))
step=$((total_chunks / changed))
commands=()
for ((i = 0; i < changed; i++)); do
  commands+=(-c "write -P 0x5a $(((i * step) * CHUNK + CHUNK / 2)) 64k")
done
qemu-io -f qcow2 "${commands[@]}" "$qcow2" >/dev/null
ferry_cli instance stop "$instance_id" >/dev/null

# --- 5. CreateImage from the instance. ---
before=$(count_chunks)
log "CreateImage from the instance"
result=$(node "$repo_dir/bench/bench_client.js" image-from-instance "$endpoint" "$REGION" "$instance_id" bench-snapshot)
create_secs=$(node -p "JSON.parse(process.argv[1]).seconds" "$result")
after=$(count_chunks)
new_chunks=$((after - before))

printf '\n%s: %s GiB image, %s of %s chunks changed (%s %%)\n' "$bench_name" "$size_gib" "$changed" \
  "$total_chunks" "$changed_pct"
printf '  %-44s %s\n' "ImportImage of the original" "$(printf '%.2f s' "$import_secs")"
printf '  %-44s %s\n' "CreateImage from the instance" "$(printf '%.2f s' "$create_secs")"
printf '  %-44s %s  (target <= 0.15)\n' "time ratio (CreateImage / import)" "$(ratio "$create_secs" "$import_secs")"
printf '  %-44s %s\n' "new chunks stored" "$new_chunks"
printf '  %-44s %s  (target <= 1.2)\n' "chunk ratio (new / changed)" "$(ratio "$new_chunks" "$changed")"
