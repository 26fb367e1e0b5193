#!/usr/bin/env bash
# API benchmark (issue 12): how fast one `ferry serve` answers DescribeImages
# and makes images from a snapshot when a region holds many images, next to
# DescribeRegions (which touches no catalog) measured in the same run: the
# server's own ceiling on this machine. The ratios are what count.
#
#   bench/api_bench.sh [--images N] [--seed-accounts A] [--duration S]
#                      [--connections C] [--dir DIR] [--keep] [--help]
#
#   --images N         images in the benchmark's own account (default 10000),
#                      made with CreateImage from one snapshot under load from
#                      wrk; the creation rate is printed per round of images
#   --seed-accounts A  instead of N CreateImage calls, make one image through
#                      the API and clone its catalog row (server stopped) into
#                      N images for the benchmark's account and N for each of
#                      A - 1 other accounts: the 1,000,000-image case is
#                      `--images 1000 --seed-accounts 1000`
#   --duration S       seconds of load per figure (default 5)
#   --connections C    keep-alive connections of the load generator (default 8)
#   --rounds R         rounds of the figures (default 3); each figure is loaded
#                      between two DescribeRegions loads and its ratio is to
#                      their mean; the table prints the median of the rounds
#   --catalog K        sqlite (default) or postgresql: the region's catalog in
#                      a throwaway PostgreSQL server (scripts/throwaway-
#                      postgres.sh, durable: fsync on) on a Unix socket, as
#                      `ferry serve --catalog` keeps it for several nodes;
#                      not with --seed-accounts
#
# The load generator is wrk (one thread), sending requests pre-signed with V1
# signatures and distinct nonces (bench/api_sign.js, bench/api_wrk.lua).
# Needs: the ferry binary ($FERRY_BIN or build/src/cli/ferry), wrk, sqlite3,
# node, openssl.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
images=10000
seed_accounts=0
duration=5
connections=8
rounds=3
work=$repo_dir/bench/out-api
keep=0
catalog_kind=sqlite
while (($#)); do
  case "$1" in
    --images) images=$2; shift 2 ;;
    --seed-accounts) seed_accounts=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --catalog) catalog_kind=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "api_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$catalog_kind" in
  sqlite) ;;
  postgresql) ((seed_accounts == 0)) || { echo "api_bench: --seed-accounts needs --catalog sqlite" >&2; exit 2; } ;;
  *) echo "api_bench: --catalog is sqlite or postgresql, not $catalog_kind" >&2; exit 2 ;;
esac
for tool in wrk sqlite3 node openssl; do
  command -v "$tool" >/dev/null || { echo "api_bench: needs $tool (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
[[ -x "$ferry" ]] || { echo "api_bench: no ferry binary at $ferry (make build)" >&2; exit 1; }

bench_name=api_bench
# shellcheck source=bench/common.sh
source "$repo_dir/bench/common.sh"

REGION=cn-bench
BUCKET=bench
export FERRY_ACCESS_KEY_ID=BENCH$(random_hex 6)
export FERRY_ACCESS_KEY_SECRET=$(random_hex 15)
export FERRY_CONFIG_DIR=$work/config
data=$work/data
catalog=$data/regions/$REGION/catalog.db

# Every request is signed with its own nonce and the server remembers each for
# 15 minutes; one AccessKey may hold a quarter of --max-nonces (1,000,000 by
# default), fewer than the rounds send. Room for all of them: the memory is
# only taken as nonces come (about 62 bytes each), and shows in the peak RSS.
max_nonces=$((4 * (rounds * 11 * duration * 20000 + 2 * images + 100000)))

catalog_args=()
if [[ "$catalog_kind" == postgresql ]]; then
  pg_dir=$work/pg
  pg_uri=$(FERRY_PG_DURABLE=1 "$repo_dir/scripts/throwaway-postgres.sh" start "$pg_dir")
  bench_cleanup_extra() { "$repo_dir/scripts/throwaway-postgres.sh" stop "$pg_dir"; }
  catalog_args=(--catalog "$pg_uri")
fi
# sql QUERY: rows of the catalog, fields separated by one space.
sql() {
  if [[ "$catalog_kind" == postgresql ]]; then
    psql "$pg_uri" -X -q -A -t -F ' ' -c "$1"
  else
    sqlite3 -readonly -separator ' ' "$catalog" "$1"
  fi
}

start_server() {
  rm -f "$work/ready.json"
  "$ferry" serve --listen 127.0.0.1:0 --data "$data" --regions "$REGION" "${catalog_args[@]}" \
    --quota-images 0 --max-nonces "$max_nonces" --ready-file "$work/ready.json" >>"$work/ferry.log" 2>&1 &
  server_pid=$!
  wait_ready "$work/ready.json" "$server_pid" "$work/ferry.log"
  endpoint=$(json_field "$work/ready.json" endpoint)
}

stop_server() {
  stop_pid "$server_pid"
  server_pid=
}

# load ACTION PARAMS_JSON COUNT: sends COUNT pre-signed requests' worth of
# load for $duration seconds (fewer if they run out) and prints wrk's JSON line.
load() {
  local action=$1 params=$2 count=$3 secs=${4:-$duration}
  node "$repo_dir/bench/api_sign.js" "$work/bodies" "$action" "$count" "$params"
  BODIES=$work/bodies wrk -t1 -c"$connections" -d"${secs}s" --timeout 10s \
    -s "$repo_dir/bench/api_wrk.lua" "$endpoint" | tail -1
}
field() { node -p "JSON.parse(process.argv[1])[process.argv[2]]" "$1" "$2"; }
image_count() { sql "SELECT count(*) FROM images WHERE account_id = '$account'"; }

mkdir -p "$data/oss/$BUCKET"
start_server

# --- 1. One small image to make the others from. ---
head -c $((4 * 1024 * 1024)) /dev/urandom >"$data/oss/$BUCKET/small.raw"
truncate -s 64M "$data/oss/$BUCKET/small.raw"
log "ImportImage of a 64 MiB disk"
first_image=$(field "$(node "$repo_dir/bench/bench_client.js" import "$endpoint" "$REGION" "$BUCKET" small.raw first)" imageId)
if [[ "$catalog_kind" == postgresql ]]; then
  first_disk="disks::jsonb->0->>'snapshot_id'"
else
  first_disk="json_extract(disks, '\$[0].snapshot_id')"
fi
read -r account snapshot < <(sql "SELECT account_id, $first_disk FROM images WHERE image_id = '$first_image'")
[[ -n "$snapshot" ]] || { echo "api_bench: no snapshot id in the catalog row of $first_image" >&2; exit 1; }

# --- 2. The images: CreateImage under load, or cloned rows. ---
create_rows=()
if ((seed_accounts == 0)); then
  log "CreateImage x $images from $snapshot ($connections connections)"
  made=$(image_count)
  round=0
  while ((made < images + 1)); do
    before=$made
    # More bodies than a 3 s round can use: a round never runs dry, and the
    # last one may make a few more images than asked.
    result=$(load CreateImage "{\"RegionId\":\"$REGION\",\"SnapshotId\":\"$snapshot\",\"ImageName\":\"bench-r$round-{i}\"}" \
      6000 3)
    made=$(image_count)
    create_rows+=("$before|$made|$(field "$result" rps)|$(field "$result" p99_ms)|$(field "$result" non2xx)")
    log "  $before -> $made images: $(field "$result" rps) req/s, p99 $(field "$result" p99_ms) ms"
    ((made > before)) || { echo "api_bench: a round of CreateImage made no image: $result; see $work/ferry.log" >&2; exit 1; }
    round=$((round + 1))
  done
else
  log "cloning the catalog row of $first_image: $images images x $seed_accounts accounts"
  stop_server
  columns=$(sqlite3 -readonly "$catalog" "SELECT group_concat(name, ', ') FROM pragma_table_info('images')")
  select=$(sqlite3 -readonly "$catalog" "SELECT group_concat(
      CASE name
        WHEN 'image_id' THEN 'printf(''m-bench%013d'', n)'
        WHEN 'account_id' THEN 'CASE WHEN n % $seed_accounts = 0 THEN ''$account'' ELSE printf(''%016d'', 9000000000000000 + n % $seed_accounts) END'
        WHEN 'name' THEN 'printf(''bench-%d'', n)'
        WHEN 'creation_time' THEN 'creation_time - $images * $seed_accounts + n'
        ELSE name END, ', ') FROM pragma_table_info('images')")
  sqlite3 "$catalog" "
    WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $images * $seed_accounts)
    INSERT INTO images ($columns) SELECT $select FROM seq, (SELECT * FROM images WHERE image_id = '$first_image');
    -- What the catalog keeps beside each image row (src/catalog/sqlite_catalog_images.cc).
    DELETE FROM image_counts;
    INSERT INTO image_counts (account_id, status, n) SELECT account_id, status, COUNT(*) FROM images GROUP BY 1, 2;
    INSERT INTO image_snapshots (snapshot_id, image_id, creation_time)
      SELECT '$snapshot', image_id, creation_time FROM images WHERE image_id LIKE 'm-bench%';"
  start_server
fi
total=$(sql "SELECT count(*) FROM images")
mine=$(image_count)
pages10=$(((mine + 9) / 10))
pages100=$(((mine + 99) / 100))
sql "SELECT image_id FROM images WHERE account_id = '$account' ORDER BY random() LIMIT 20000" >"$work/ids"

# --- 3. The figures, each next to DescribeRegions from the same run. ---
# The reference moves by up to a third within a minute on a shared machine,
# so each figure is measured between two DescribeRegions loads and compared
# with their mean, in --rounds rounds; a figure's ratio is the median of its
# rounds' ratios.
count=$((duration * 20000))
figures=(page10 page100 anypage anypage100 byid)
declare -A params=(
  [page10]="{\"RegionId\":\"$REGION\",\"PageSize\":\"10\"}"
  [page100]="{\"RegionId\":\"$REGION\",\"PageSize\":\"100\"}"
  [anypage]="{\"RegionId\":\"$REGION\",\"PageSize\":\"10\",\"PageNumber\":\"{rand:$pages10}\"}"
  [anypage100]="{\"RegionId\":\"$REGION\",\"PageSize\":\"100\",\"PageNumber\":\"{rand:$pages100}\"}"
  [byid]="{\"RegionId\":\"$REGION\",\"ImageId\":\"{pick:$work/ids}\"}"
)
declare -A res refs ratios
for ((round = 1; round <= rounds; round++)); do
  log "round $round of $rounds: DescribeRegions between the figures"
  before=$(load DescribeRegions "{}" "$count")
  refs[all]+=" $(field "$before" rps)"
  for f in "${figures[@]}"; do
    log "  $f"
    r=$(load DescribeImages "${params[$f]}" "$count")
    after=$(load DescribeRegions "{}" "$count")
    refs[all]+=" $(field "$after" rps)"
    ref=$(node -p "($(field "$before" rps) + $(field "$after" rps)) / 2")
    res[$f]+="$r"$'\n'
    ratios[$f]+=" $(ratio "$(field "$r" rps)" "$ref")"
    before=$after
  done
done
rss=$(peak_rss_mib "$server_pid")
if [[ "$catalog_kind" == postgresql ]]; then
  catalog_mib=$(($(sql "SELECT pg_database_size(current_database())") >> 20))
else
  catalog_mib=$(du -cm "$catalog"* | tail -1 | cut -f1)
fi

# median NUMBERS...: the middle one (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# figure KEY FIELD: the median of FIELD over the rounds' wrk lines.
figure() { median $(printf '%s' "${res[$1]}" | while read -r line; do [[ -n "$line" ]] && field "$line" "$2"; done); }
read -ra ref_all <<<"${refs[all]}"
printf '\n%s\n' "API benchmark ($catalog_kind catalog): $total images in the region ($mine in the caller's account), $connections connections, ${duration}s per load, $rounds rounds, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'DescribeRegions (no catalog; the reference), measured between the figures: %s req/s (median), %s-%s\n' \
  "$(median "${ref_all[@]}")" "$(printf '%s\n' "${ref_all[@]}" | sort -g | head -1)" "$(printf '%s\n' "${ref_all[@]}" | sort -g | tail -1)"
printf '| %-48s | %10s | %8s | %8s | %8s | %-10s | %s |\n' "request (medians over the rounds)" "req/s" "p50 ms" "p99 ms" "failed" "ratio" "each round's ratio"
printf '|%s|\n' "--------------------------------------------------|------------|----------|----------|----------|------------|--------------------"
line() {  # line LABEL KEY
  local failed
  failed=$(printf '%s' "${res[$2]}" | while read -r l; do [[ -n "$l" ]] && field "$l" failed; done | awk '{s += $1} END {print s + 0}')
  printf '| %-48s | %10s | %8s | %8s | %8s | %-10s | %s |\n' "$1" "$(figure "$2" rps)" "$(figure "$2" p50_ms)" \
    "$(figure "$2" p99_ms)" "$failed" "$(median ${ratios[$2]})" "${ratios[$2]# }"
}
line "DescribeImages, PageSize 10, page 1" page10
line "DescribeImages, PageSize 100, page 1" page100
line "DescribeImages, PageSize 10, any of $pages10 pages" anypage
line "DescribeImages, PageSize 100, any of $pages100 pages" anypage100
line "DescribeImages by ImageId" byid
if ((${#create_rows[@]})); then
  printf '\nCreateImage from a snapshot (%s connections):\n' "$connections"
  printf '| images before -> after | req/s | p99 ms | failed |\n|---|---|---|---|\n'
  for row in "${create_rows[@]}"; do
    IFS='|' read -r before after rps p99 failed <<<"$row"
    printf '| %s -> %s | %s | %s | %s |\n' "$before" "$after" "$rps" "$p99" "$failed"
  done
fi
printf '\ncatalog on disk: %s MiB; server peak RSS: %s MiB\n' "$catalog_mib" "$rss"
