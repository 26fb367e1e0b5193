#!/usr/bin/env bash
# Two regions of two nodes each on this machine, in the scale-out shape of
# docs/deploy.md (issue 13): a throwaway PostgreSQL with one database per
# region, a throwaway Ceph cluster with one bucket per region, and four
# `ferry serve` processes on 127.0.0.1. For trying the shape, not for keeping
# data: PostgreSQL runs without fsync and Ceph keeps its objects in memory.
#
#   scripts/cluster.sh start [DIR]   start everything (DIR default: var/cluster);
#                                    prints the endpoints and the root key
#   scripts/cluster.sh stop [DIR]    stop the nodes, Ceph and PostgreSQL, by pid
#
# Nodes (API port; admin and OSS listeners on the next two ports):
#   cn-hangzhou  hz-1 127.0.0.1:9180   hz-2 127.0.0.1:9183
#   cn-shanghai  sh-1 127.0.0.1:9186   sh-2 127.0.0.1:9189
# Ceph's gateway listens on 127.0.0.1:9200. `make cluster` builds ferry and
# runs `start`; `make cluster-stop` runs `stop`.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferry=${FERRY_BIN:-$repo_dir/build/src/cli/ferry}
command=${1:-}
dir=${2:-$repo_dir/var/cluster}

nodes=(hz-1 hz-2 sh-1 sh-2)
declare -A region_of=([hz-1]=cn-hangzhou [hz-2]=cn-hangzhou [sh-1]=cn-shanghai [sh-2]=cn-shanghai)
declare -A port_of=([hz-1]=9180 [hz-2]=9183 [sh-1]=9186 [sh-2]=9189)
declare -A database_of=([cn-hangzhou]=ferry_hz [cn-shanghai]=ferry_sh)
declare -A bucket_of=([cn-hangzhou]=ferry-hz [cn-shanghai]=ferry-sh)
# Each node names both nodes of the other region: copies, chunk reads and
# account lookups fail over between them, and new copies are spread over them.
declare -A peer_a_of=([cn-hangzhou]="cn-shanghai=http://127.0.0.1:9186" [cn-shanghai]="cn-hangzhou=http://127.0.0.1:9180")
declare -A peer_b_of=([cn-hangzhou]="cn-shanghai=http://127.0.0.1:9189" [cn-shanghai]="cn-hangzhou=http://127.0.0.1:9183")
ceph_port=9200

stop_node() {
  local pidfile=$dir/$1/pid pid
  [[ -f "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

stop_all() {
  for node in "${nodes[@]}"; do stop_node "$node"; done
  "$repo_dir/scripts/throwaway-ceph.sh" stop "$dir/ceph"
  "$repo_dir/scripts/throwaway-postgres.sh" stop "$dir/pg"
}

case "$command" in
  start)
    [[ -x "$ferry" ]] || { echo "cluster: no ferry binary at $ferry (make build)" >&2; exit 1; }
    if [[ -f "$dir/hz-1/pid" ]] && kill -0 "$(cat "$dir/hz-1/pid")" 2>/dev/null; then
      echo "cluster: already running in $dir (scripts/cluster.sh stop $dir)" >&2
      exit 1
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    trap 'echo "cluster: start failed; stopping what started" >&2; stop_all' ERR
    echo "cluster: PostgreSQL" >&2
    pg_uri=$("$repo_dir/scripts/throwaway-postgres.sh" start "$dir/pg")
    for database in "${database_of[@]}"; do
      psql -q "$pg_uri" -tc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1 ||
        psql -q "$pg_uri" -c "CREATE DATABASE $database" >/dev/null
    done
    echo "cluster: Ceph (about 15 s)" >&2
    endpoint=$("$repo_dir/scripts/throwaway-ceph.sh" start "$dir/ceph" "$ceph_port")
    set -a
    # shellcheck disable=SC1091
    . "$dir/ceph/s3.env"
    set +a
    for bucket in "${bucket_of[@]}"; do
      curl -sf -o /dev/null -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        "$endpoint/$bucket"
    done
    # One cluster key and one root AccessKey for every node.
    (umask 077
     [[ -s "$dir/cluster.key" ]] || openssl rand -hex 32 >"$dir/cluster.key"
     [[ -s "$dir/root.env" ]] || printf 'FERRY_ACCESS_KEY_ID=LTAI%s\nFERRY_ACCESS_KEY_SECRET=%s\n' \
       "$(openssl rand -hex 10)" "$(openssl rand -hex 15)" >"$dir/root.env")
    set -a
    # shellcheck disable=SC1091
    . "$dir/root.env"
    set +a
    for node in "${nodes[@]}"; do
      region=${region_of[$node]}
      port=${port_of[$node]}
      mkdir -p "$dir/$node/data" "$dir/$node/config"
      rm -f "$dir/$node/ready.json"
      FERRY_CONFIG_DIR=$dir/$node/config "$ferry" serve --region "$region" \
        --catalog "${pg_uri/\/postgres\?//${database_of[$region]}?}" \
        --store "s3://${bucket_of[$region]}?endpoint=$endpoint" \
        --peer "${peer_a_of[$region]}" --peer "${peer_b_of[$region]}" --cluster-key-file "$dir/cluster.key" \
        --data "$dir/$node/data" --listen "127.0.0.1:$port" \
        --ready-file "$dir/$node/ready.json" >"$dir/$node/ferry.log" 2>&1 &
      echo $! >"$dir/$node/pid"
      echo "cluster: $node ($region) on 127.0.0.1:$port" >&2
    done
    for node in "${nodes[@]}"; do
      for _ in $(seq 600); do
        [[ -s "$dir/$node/ready.json" ]] && break
        kill -0 "$(cat "$dir/$node/pid")" 2>/dev/null || break
        sleep 0.1
      done
      if [[ ! -s "$dir/$node/ready.json" ]]; then
        echo "cluster: $node did not start; the end of $dir/$node/ferry.log:" >&2
        tail -15 "$dir/$node/ferry.log" >&2
        false
      fi
    done
    trap - ERR
    cat <<EOF
The cluster runs in $dir:
  cn-hangzhou  http://127.0.0.1:9180 (hz-1)  http://127.0.0.1:9183 (hz-2)
  cn-shanghai  http://127.0.0.1:9186 (sh-1)  http://127.0.0.1:9189 (sh-2)
  PostgreSQL   $pg_uri (databases ferry_hz, ferry_sh)
  Ceph RGW     $endpoint (buckets ferry-hz, ferry-sh; keys in $dir/ceph/credentials)
Use it (any node answers for its region, and serves its buckets: OSS on each node's API
port + 2, the objects in the region's Ceph bucket):
  set -a; . $dir/root.env; set +a
  export FERRY_ENDPOINT=http://127.0.0.1:9180 FERRY_REGION=cn-hangzhou
  ferry image import disk.raw --name demo --query ImageId
  ferry --endpoint http://127.0.0.1:9183 image list      # the other node of cn-hangzhou
Stop it: scripts/cluster.sh stop $dir   (or make cluster-stop)
EOF
    ;;
  stop)
    stop_all
    ;;
  *)
    echo "usage: $0 start|stop [DIR]" >&2
    exit 2
    ;;
esac
