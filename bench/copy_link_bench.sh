#!/usr/bin/env bash
# Copy benchmark B3: CopyImage between two ferry processes in two network
# namespaces joined by a veth pair shaped to --rate with `tc tbf`, with a
# user-space delay proxy adding --delay-ms each way (the test kernels have no
# netem). Measures the link itself in the same run (bulk TCP rate and round
# trip, directly and through the proxy), then a first copy (B3) and an
# incremental copy (2% of the blocks changed) over that link.
#
#   bench/copy_link_bench.sh [--size-gib N] [--data-mib M] [--rate R] [--delay-ms D]
#                            [--probe-mib P] [--idle-s S] [--dir DIR] [--keep] [--link-only]
#
#   --size-gib N   logical size of the raw image (default 2)
#   --data-mib M   bytes of files in its ext4 file system (default: half the image, at most 1024)
#   --rate R       tbf rate on each veth end, as tc spells it (default 1gbit)
#   --delay-ms D   one-way delay added by the proxy (default 25, i.e. 50 ms round trip)
#   --probe-mib P  bytes pulled by each bulk TCP probe (default 512)
#   --idle-s S     wait S seconds between the imports and the first copy, as a
#                  cluster idle for a while before a copy would (default 0)
#   --dir DIR      work directory (default bench/out-copy/link); a real disk, not tmpfs
#   --keep         keep the work directory afterwards
#   --link-only    measure the link only (no ferry binary needed)
#
# Needs root (ip netns, tc), node, curl, and for the copy the ferry binary
# ($FERRY_BIN or build/src/cli/ferry), mkfs.ext4 and openssl. All traffic stays
# inside the two namespaces the script creates; it deletes them on exit.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
size_gib=2
data_mib=
rate=1gbit
delay_ms=25
probe_mib=512
idle_s=0
work=$repo_dir/bench/out-copy/link
keep=0
link_only=0
while (($#)); do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --data-mib) data_mib=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --delay-ms) delay_ms=$2; shift 2 ;;
    --probe-mib) probe_mib=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --link-only) link_only=1; shift ;;
    --idle-s) idle_s=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "copy_link_bench: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if [[ -z "$data_mib" ]]; then
  data_mib=$((size_gib * 1024 / 2))
  ((data_mib > 1024)) && data_mib=1024
fi
((EUID == 0)) || { echo "copy_link_bench: needs root (ip netns, tc)" >&2; exit 1; }
tools="ip tc node curl"
((link_only)) || tools+=" mkfs.ext4 openssl"
for tool in $tools; do
  command -v "$tool" >/dev/null || { echo "copy_link_bench: $tool is missing" >&2; exit 1; }
done
if ((!link_only)); then
  [[ -x "$ferry" ]] || { echo "copy_link_bench: no ferry binary at $ferry (run make build)" >&2; exit 1; }
  "$ferry" serve --help 2>&1 | grep -q -- '--peer' ||
    { echo "copy_link_bench: $ferry serve has no --peer option (two-process mode)" >&2; exit 1; }
fi
rate_bps=$(awk -v r="$rate" 'BEGIN {
  n = r + 0; u = tolower(substr(r, length(n "") + 1))
  m = (u == "gbit") ? 1e9 : (u == "mbit") ? 1e6 : (u == "kbit") ? 1e3 : (u == "bit" || u == "") ? 1 : -1
  if (m < 0 || n <= 0) exit 1
  print n * m }') || { echo "copy_link_bench: --rate '$rate': use NUMBER[gbit|mbit|kbit]" >&2; exit 2; }

SOURCE=cn-hangzhou
DEST=cn-shanghai
BUCKET=bench
CHANGED_PERCENT=2
# Names carry the pid so that two runs, or a crashed earlier run, never collide.
ns_src=ferry-b3-src-$$
ns_dst=ferry-b3-dst-$$
veth_src=fb3s$$
veth_dst=fb3d$$
SRC_IP=10.77.0.1
DST_IP=10.77.0.2
FERRY_PORT=8000
PROBE_PORT=7000
# Proxy ports on each namespace's own loopback: the destination reaches the
# source (and the probe) through them, the source reaches the destination.
PROXY_TO_SRC_FERRY=8100
PROXY_TO_PROBE=7100
PROXY_TO_DST_FERRY=8200

bench_name=copy_link_bench
ns_made=()
# Runs after common.sh stopped every tracked process: deleting a namespace
# deletes its veth end, and with it the peer.
bench_cleanup_extra() {
  local ns
  for ns in "${ns_made[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  ip link del "$veth_src" 2>/dev/null || true
}
# shellcheck source=bench/common.sh
source "$repo_dir/bench/common.sh"
in_src() { ip netns exec "$ns_src" "$@"; }
in_dst() { ip netns exec "$ns_dst" "$@"; }
tx_bytes() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/tx_bytes"; }

# --- 1. The link. ---
log "network: namespaces $ns_src, $ns_dst; veth $veth_src <-> $veth_dst; tbf $rate each way"
ip netns add "$ns_src"; ns_made+=("$ns_src")
ip netns add "$ns_dst"; ns_made+=("$ns_dst")
ip link add "$veth_src" type veth peer name "$veth_dst"
ip link set "$veth_src" netns "$ns_src"
ip link set "$veth_dst" netns "$ns_dst"
ip -n "$ns_src" addr add "$SRC_IP/24" dev "$veth_src"
ip -n "$ns_dst" addr add "$DST_IP/24" dev "$veth_dst"
for pair in "$ns_src $veth_src" "$ns_dst $veth_dst"; do
  read -r ns dev <<<"$pair"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$dev" up
  # burst >= rate / HZ for tbf to reach its rate; the 50 ms queue bound only
  # matters for bursts the proxy releases at once.
  tc -n "$ns" qdisc add dev "$dev" root tbf rate "$rate" burst 1mb latency 50ms
done

# start_in NS NAME CMD...: starts CMD inside NS in the background, logging to
# $work/NAME.log; sets started_pid and tracks it.
start_in() {
  local ns=$1 name=$2
  shift 2
  ip netns exec "$ns" "$@" >"$work/$name.log" 2>&1 &
  started_pid=$!
  track_pid "$started_pid"
}
# start_proxy NS NAME LISTEN_PORT TARGET: a delay proxy on NS's loopback.
start_proxy() {
  start_in "$1" "$2" node "$repo_dir/bench/delay_proxy.js" --listen "127.0.0.1:$3" --target "$4" \
    --delay-ms "$delay_ms" --ready-file "$work/$2.ready"
  wait_ready "$work/$2.ready" "$started_pid" "$work/$2.log"
}

start_in "$ns_src" probe node "$repo_dir/bench/tcp_probe.js" server --listen "$SRC_IP:$PROBE_PORT" \
  --ready-file "$work/probe.ready"
wait_ready "$work/probe.ready" "$started_pid" "$work/probe.log"
start_proxy "$ns_dst" proxy-probe "$PROXY_TO_PROBE" "$SRC_IP:$PROBE_PORT"

probe_bytes=$((probe_mib * 1024 * 1024))
log "link: round trips and a ${probe_mib} MiB pull, direct and through the proxy"
rtt_direct=$(in_dst node "$repo_dir/bench/tcp_probe.js" rtt --connect "$SRC_IP:$PROBE_PORT")
rtt_proxy=$(in_dst node "$repo_dir/bench/tcp_probe.js" rtt --connect "127.0.0.1:$PROXY_TO_PROBE")
rate_direct=$(in_dst node "$repo_dir/bench/tcp_probe.js" rate --connect "$SRC_IP:$PROBE_PORT" --bytes "$probe_bytes")
rate_proxy=$(in_dst node "$repo_dir/bench/tcp_probe.js" rate --connect "127.0.0.1:$PROXY_TO_PROBE" --bytes "$probe_bytes")
field() { node -p "JSON.parse(process.argv[1]).$1" "$2"; }
ms() { printf '%.1f ms' "$1"; }
mbit() { awk -v b="$1" 'BEGIN { printf "%.0f Mbit/s", b / 1e6 }'; }
link_proxy_bps=$(field bitsPerSecond "$rate_proxy")

row() { printf '%-52s %22s\n' "$1" "$2"; }
report_link() {
  echo
  echo "Link: veth + tbf $rate each way + delay proxy ${delay_ms} ms each way ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
  row "round trip, direct (median of 20)"            "$(ms "$(field medianMs "$rtt_direct")")"
  row "round trip, through the proxy (median of 20)" "$(ms "$(field medianMs "$rtt_proxy")")"
  row "  min / max through the proxy"                "$(ms "$(field minMs "$rtt_proxy")") / $(ms "$(field maxMs "$rtt_proxy")")"
  row "  connect + first round trip, proxy"          "$(ms "$(field connectAndFirstMs "$rtt_proxy")")"
  row "bulk TCP ${probe_mib} MiB, direct"            "$(mbit "$(field bitsPerSecond "$rate_direct")")"
  row "bulk TCP ${probe_mib} MiB, through the proxy" "$(mbit "$link_proxy_bps")"
  row "  proxy / direct"                             "$(ratio "$link_proxy_bps" "$(field bitsPerSecond "$rate_direct")")"
  row "  proxy / nominal $rate"                      "$(ratio "$link_proxy_bps" "$rate_bps")"
}
if ((link_only)); then
  report_link
  exit 0
fi

# --- 2. Images (untimed). ---
log "building a ${size_gib} GiB ext4 image with ~${data_mib} MiB of files, and version 2"
image=$work/disk.raw
image_v2=$work/disk-v2.raw
make_image "$image" "$size_gib" "$data_mib"
make_version2 "$image" "$image_v2" "$CHANGED_PERCENT"

# --- 3. Two ferry processes, one per namespace, each reaching the other
# through the delay proxy in its own namespace. ---
export FERRY_ACCESS_KEY_ID=BENCH$(random_hex 6)
export FERRY_ACCESS_KEY_SECRET=$(random_hex 15)
# The cluster key in the environment, never on the command line.
export FERRY_CLUSTER_KEY=$(random_hex 16)
start_proxy "$ns_dst" proxy-to-src "$PROXY_TO_SRC_FERRY" "$SRC_IP:$FERRY_PORT"
start_proxy "$ns_src" proxy-to-dst "$PROXY_TO_DST_FERRY" "$DST_IP:$FERRY_PORT"
mkdir -p "$work/src/oss/$BUCKET" "$work/dst"
ln "$image" "$work/src/oss/$BUCKET/disk.raw"
ln "$image_v2" "$work/src/oss/$BUCKET/disk-v2.raw"
log "starting ferry serve: $SOURCE in $ns_src, $DEST in $ns_dst"
FERRY_CONFIG_DIR=$work/src/config start_in "$ns_src" ferry-src "$ferry" serve --data "$work/src" \
  --listen "$SRC_IP:$FERRY_PORT" --admin-listen 127.0.0.1:0 --region "$SOURCE" --peer "$DEST=http://127.0.0.1:$PROXY_TO_DST_FERRY" \
  --ready-file "$work/ferry-src.ready"
src_pid=$started_pid
FERRY_CONFIG_DIR=$work/dst/config start_in "$ns_dst" ferry-dst "$ferry" serve --data "$work/dst" \
  --listen "$DST_IP:$FERRY_PORT" --admin-listen 127.0.0.1:0 --region "$DEST" --peer "$SOURCE=http://127.0.0.1:$PROXY_TO_SRC_FERRY" \
  --ready-file "$work/ferry-dst.ready"
dst_pid=$started_pid
wait_ready "$work/ferry-src.ready" "$src_pid" "$work/ferry-src.log"
wait_ready "$work/ferry-dst.ready" "$dst_pid" "$work/ferry-dst.log"
src_endpoint=http://$SRC_IP:$FERRY_PORT
dst_endpoint=http://$DST_IP:$FERRY_PORT
client_in() { local ns=$1; shift; ip netns exec "$ns" node "$repo_dir/bench/bench_client.js" "$@"; }
# Counters are on the operator's listener only (loopback of the namespace).
dst_admin=$(json_field "$work/ferry-dst.ready" admin_endpoint)
dst_metric() { in_dst curl -fsS "$dst_admin/metrics" | metric_value "$1" "$DEST"; }

log "ImportImage versions 1 and 2 into $SOURCE (untimed, in $ns_src)"
v1_id=$(field imageId "$(client_in "$ns_src" import "$src_endpoint" "$SOURCE" "$BUCKET" disk.raw bench-v1)")
v2_id=$(field imageId "$(client_in "$ns_src" import "$src_endpoint" "$SOURCE" "$BUCKET" disk-v2.raw bench-v2)")

# copy_over_link IMAGE_ID NAME: times CopyImage (sent to the destination
# process, which forwards it) until the copy is Available in $DEST. Sets
# copy_secs, link_bytes (bytes the source's veth sent: tx_bytes) and
# wire_bytes (chunk bytes the destination counted).
copy_over_link() {
  local tx_before wire_before
  tx_before=$(tx_bytes "$ns_src" "$veth_src")
  wire_before=$(dst_metric ferry_region_copy_bytes_received_total)
  sync
  copy_secs=$(field seconds "$(client_in "$ns_dst" copy "$dst_endpoint" "$SOURCE" "$DEST" "$1" "$2")")
  link_bytes=$(($(tx_bytes "$ns_src" "$veth_src") - tx_before))
  wire_bytes=$(($(dst_metric ferry_region_copy_bytes_received_total) - wire_before))
}
if ((idle_s > 0)); then
  log "idle for $idle_s s (servers close connections idle for 120 s)"
  sleep "$idle_s"
fi
log "B3: CopyImage $v1_id $SOURCE -> $DEST over the link"
copy_over_link "$v1_id" bench-v1-copy
b3_secs=$copy_secs b3_link=$link_bytes b3_wire=$wire_bytes
log "B3 incremental: CopyImage $v2_id (version 1 already in $DEST)"
copy_over_link "$v2_id" bench-v2-copy
b3i_secs=$copy_secs b3i_link=$link_bytes b3i_wire=$wire_bytes

# --- 4. Report. ---
bps() { awk -v b="$1" -v s="$2" 'BEGIN { print b * 8 / s }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
report_link
echo "------------------------------------------------------------------------------"
row "image: ${size_gib} GiB ext4, $files files"         "$(mib "$image_bytes")"
if ((idle_s > 0)); then row "idle between the imports and B3" "$idle_s s"; fi
row "  in non-zero 4 MiB chunks"                      "$(mib "$data_bytes")"
row "B3: CopyImage -> Available in $DEST"             "$(printf '%.2f s' "$b3_secs")"
row "  logical rate"                                  "$(mib_per_s "$image_bytes" "$b3_secs") MiB/s"
row "  chunk bytes received (/metrics)"               "$(mib "$b3_wire")"
row "  bytes sent on the source's veth (tx_bytes)"      "$(mib "$b3_link")"
row "  link rate used (veth bytes / time)"            "$(mbit "$(bps "$b3_link" "$b3_secs")")"
row "RATIO = link rate used / nominal $rate (>= 0.90)" "$(ratio "$(bps "$b3_link" "$b3_secs")" "$rate_bps")"
row "  chunk payload rate / probe through the proxy"  "$(ratio "$(bps "$b3_wire" "$b3_secs")" "$link_proxy_bps")"
echo "------------------------------------------------------------------------------"
row "incremental: $changed of $blocks blocks changed (${CHANGED_PERCENT}%)" "$(mib $((changed * CHUNK_BYTES)))"
row "  CopyImage v2 -> Available (v1 in $DEST)"       "$(printf '%.2f s' "$b3i_secs")"
row "  / B3 time"                                     "$(ratio "$b3i_secs" "$b3_secs")"
row "  chunk bytes received (/metrics)"               "$(mib "$b3i_wire")"
row "  bytes sent on the source's veth"               "$(mib "$b3i_link")"
row "  veth bytes / changed blocks (<= 1.2)"          "$(ratio "$b3i_link" $((changed * CHUNK_BYTES)))"
row "peak RSS (VmHWM): source / destination"          "$(peak_rss_mib "$src_pid") / $(peak_rss_mib "$dst_pid") MiB"
echo
echo "The proxy delays each byte ${delay_ms} ms per direction and holds a new connection for one"
echo "round trip; it splits TCP in two, so TCP's window over the long path is not modeled."
