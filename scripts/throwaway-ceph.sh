#!/usr/bin/env bash
# A throwaway Ceph cluster for tests and for trying the S3 chunk store (issue
# 13): one monitor, one OSD on memstore (objects in RAM, gone when it stops)
# and one RADOS Gateway speaking S3 on 127.0.0.1, with `auth none` and no
# ceph-mgr. Everything lives in DIR; nothing under /etc/ceph or /var/lib/ceph
# is read or written. FERRY_CEPH_OBJECTSTORE=bluestore puts the OSD's objects
# in a sparse file in DIR instead (on disk, as a real cluster's; benchmarks).
#
#   scripts/throwaway-ceph.sh start DIR [PORT]   make and start the cluster, an
#                                                S3 user and no bucket; prints
#                                                the S3 endpoint on stdout
#   scripts/throwaway-ceph.sh stop DIR           stop it by its pids (gateway,
#                                                OSD, monitor, in that order)
#
# PORT (default 8000) is the gateway's; the monitor takes PORT+1 (msgr2) and
# PORT+2 (msgr1), so a second cluster needs a PORT 10 further on.
# The S3 user's keys, fresh random ones per cluster, are in DIR/credentials
# (the AWS shared-credentials file: AWS_SHARED_CREDENTIALS_FILE=DIR/credentials)
# and in DIR/s3.env (AWS_ACCESS_KEY_ID=... lines, for `set -a; . DIR/s3.env`).
#
# Needs Debian's ceph-mon, ceph-osd, radosgw and ceph-common
# (scripts/install-deps.sh installs them).
set -euo pipefail

usage() { echo "usage: $0 start DIR [PORT] | stop DIR" >&2; exit 2; }
(($# >= 2)) || usage
command=$1
dir=$2

daemons=(rgw osd mon)  # the order they stop in: a gateway whose monitor is gone ignores SIGTERM

stop_daemon() {
  local pidfile=$dir/$1.pid pid
  [[ -f "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  [[ "$pid" =~ ^[0-9]+$ ]] || { echo "throwaway-ceph: $pidfile holds no pid" >&2; return 1; }
  kill -TERM "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  echo "throwaway-ceph: $1 ($pid) did not stop in 10 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

stop_all() {
  for d in "${daemons[@]}"; do stop_daemon "$d"; done
}

# Waits (bounded) for `$@` to succeed; names `what` and the log on failure.
wait_for() {
  local what=$1 seconds=$2 log=$3
  shift 3
  for _ in $(seq $((seconds * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "throwaway-ceph: $what not ready after $seconds s; the end of $log:" >&2
  tail -20 "$log" >&2 || true
  stop_all
  exit 1
}

case "$command" in
  start)
    port=${3:-8000}
    [[ "$port" =~ ^[0-9]+$ ]] || usage
    for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
      command -v "$tool" >/dev/null || { echo "throwaway-ceph: no $tool (install ceph-mon ceph-osd radosgw ceph-common)" >&2; exit 1; }
    done
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f "$dir/mon.pid" ]] && kill -0 "$(cat "$dir/mon.pid")" 2>/dev/null; then
      echo "throwaway-ceph: a cluster already runs in $dir" >&2
      exit 1
    fi
    # memstore keeps nothing across a stop: every start is a new cluster.
    rm -rf "$dir/run" "$dir/log" "$dir/mon" "$dir/osd" "$dir/rgw" "$dir/monmap"
    mkdir -p "$dir"/{run,log,mon/ceph-a,osd/ceph-0,rgw}
    fsid=$(cat /proc/sys/kernel/random/uuid)
    conf=$dir/ceph.conf
    cat >"$conf" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$((port + 1))
public_network = 127.0.0.0/8
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = $dir/run
admin_socket = $dir/run/\$name.asok
log_file = $dir/log/\$name.log
pid_file = $dir/run/\$name.pid
keyring = $dir/keyring
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
mon_max_pg_per_osd = 1000
ms_bind_ipv6 = false
[mon]
mon_data = $dir/mon/\$cluster-\$id
[osd]
osd_data = $dir/osd/\$cluster-\$id
osd_objectstore = ${FERRY_CEPH_OBJECTSTORE:-memstore}
memstore_device_bytes = ${FERRY_CEPH_BYTES:-4294967296}
bluestore_block_path = $dir/osd/\$cluster-\$id/block.file
bluestore_block_size = ${FERRY_CEPH_BYTES:-17179869184}
bluestore_block_create = true
bluestore_block_db_create = false
bluestore_block_wal_create = false
bluestore_cache_autotune = false
bluestore_cache_size = 134217728
osd_memory_target = 939524096
[client.rgw.a]
# With auth none the gateway must be told crc mode, or it retries its
# monitor connection forever and never opens its port.
ms_mon_client_mode = crc
rgw_frontends = beast endpoint=127.0.0.1:$port tcp_nodelay=1
rgw_data = $dir/rgw
rgw_dns_name = localhost
EOF
    export CEPH_CONF=$conf
    monmaptool --create --addv a "[v2:127.0.0.1:$((port + 1)),v1:127.0.0.1:$((port + 2))]" --fsid "$fsid" \
      "$dir/monmap" >"$dir/log/setup.log" 2>&1
    ceph-mon --mkfs -i a --monmap "$dir/monmap" >>"$dir/log/setup.log" 2>&1
    ceph-mon -i a -f >>"$dir/log/mon.out" 2>&1 &
    echo $! >"$dir/mon.pid"
    wait_for "the monitor" 60 "$dir/log/mon.a.log" timeout 5 ceph -s
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    osd_id=$(timeout 30 ceph osd new "$osd_uuid")
    ceph-osd -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >>"$dir/log/setup.log" 2>&1
    ceph-osd -i "$osd_id" -f >>"$dir/log/osd.out" 2>&1 &
    echo $! >"$dir/osd.pid"
    osd_up() { timeout 5 ceph osd stat -f json | grep -q '"num_up_osds":1'; }
    wait_for "the OSD" 60 "$dir/log/osd.$osd_id.log" osd_up
    radosgw -n client.rgw.a -f >>"$dir/log/rgw.out" 2>&1 &
    echo $! >"$dir/rgw.pid"
    wait_for "the gateway" 90 "$dir/log/client.rgw.a.log" curl -sf -o /dev/null "http://127.0.0.1:$port/"
    access=$(head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
    secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n')
    timeout 30 radosgw-admin user create --uid=ferry --display-name=Ferry \
      --access-key="$access" --secret-key="$secret" >>"$dir/log/setup.log" 2>&1
    umask 077
    printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$access" "$secret" >"$dir/credentials"
    printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$access" "$secret" >"$dir/s3.env"
    echo "http://127.0.0.1:$port"
    ;;
  stop)
    (($# == 2)) || usage
    stop_all
    ;;
  *) usage ;;
esac
