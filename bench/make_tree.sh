#!/usr/bin/env bash
# Fills DIR with about MIB mebibytes of files that look like a real root
# file system, for mkfs.ext4 -d:
#   ~60% copies of files from /usr/lib and /usr/share (binaries, libraries, docs)
#   ~25% random data (already compressed media, archives, encrypted blobs)
#   the rest generated text (logs)
#
#   bench/make_tree.sh DIR MIB
set -euo pipefail

dir=$1
target_mib=$2
mkdir -p "$dir"
MiB=$((1024 * 1024))

# 1. System files in directory order up to the budget (paths relative to /).
system_budget=$((target_mib * 60 / 100 * MiB))
find /usr/lib /usr/share -xdev -type f -readable -size +0 -printf '%s\t%p\n' 2>/dev/null |
  awk -F'\t' -v max="$system_budget" '{ if (sum + $1 > max) next; sum += $1; print substr($2, 2) }' \
  >"$dir/.files" || true
rsync -a --files-from="$dir/.files" / "$dir/" 2>/dev/null || true
rm -f "$dir/.files"

have_mib() { du -sm "$dir" | cut -f1; }

# 2. Random files from 256 KiB to 32 MiB.
random_budget_mib=$((target_mib * 25 / 100))
mkdir -p "$dir/srv/blobs"
made=0 i=0
while ((made < random_budget_mib)); do
  size_kib=$(( (RANDOM % 128 + 1) * 256 ))
  head -c "${size_kib}K" /dev/urandom >"$dir/srv/blobs/blob-$i.bin"
  made=$((made + size_kib / 1024)) i=$((i + 1))
done

# 3. Text: log files up to the total target.
mkdir -p "$dir/var/log/app"
n=0
while (( $(have_mib) < target_mib )); do
  awk -v seed="$n" 'BEGIN {
      srand(seed)
      split("GET POST PUT DELETE", verbs, " ")
      split("200 200 200 200 201 204 304 400 404 500", codes, " ")
      for (i = 0; i < 200000; i++) {
        printf "2026-11-%02dT%02d:%02d:%02d.%03dZ host-%02d ferry[%d]: %s /v1/images/m-%08x status=%s bytes=%d took_ms=%.1f\n",
          1 + int(rand() * 28), int(rand() * 24), int(rand() * 60), int(rand() * 60), int(rand() * 1000),
          int(rand() * 16), 1000 + int(rand() * 9000), verbs[1 + int(rand() * 4)], int(rand() * 4294967295),
          codes[1 + int(rand() * 10)], int(rand() * 1048576), rand() * 250
      }
    }' >"$dir/var/log/app/app-$n.log"
  n=$((n + 1))
done
