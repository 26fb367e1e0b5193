#!/usr/bin/env bash
# Installs what Ferry needs to build and test on Debian 12, then the Node
# packages of the end-to-end suite. Safe to run again: it only installs what
# is missing and prints nothing when everything is already there.
#
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --format   also clang-format (for `make format`)
#
# Needs root (or sudo) only when a Debian package is missing.
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-url1.81-dev libsqlite3-dev libssl-dev libzstd-dev
  libcli11-dev libspdlog-dev nlohmann-json3-dev libtomlplusplus-dev libexpat1-dev
  libgtest-dev libgmock-dev googletest
  qemu-utils e2fsprogs rsync
  wrk sqlite3  # bench/api_bench.sh: the load generator, the catalog seeding
  libpq-dev postgresql-15  # the PostgreSQL catalog (issue 13); its tests start a throwaway server
  libcurl4-openssl-dev  # the S3 chunk store (issue 13)
  ceph-mon ceph-osd radosgw ceph-common  # its tests run against a throwaway Ceph (scripts/throwaway-ceph.sh)
  openssl curl iproute2  # the README's commands; its test runs them in a network namespace
  chromium  # the console's browser tests (playwright-core drives it)
  clang libclang-rt-14-dev  # make fuzz / make test-sanitize: libFuzzer, ASan, UBSan, TSan
)
for arg in "$@"; do
  case "$arg" in
    --format) packages+=(clang-format) ;;
    *) echo "install-deps: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

# Node may come from somewhere other than Debian (nodesource, nvm, a CI image);
# any node >= 18 with npm will do for the test suite.
node_is_usable() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || return 1
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || return 1
  [[ "$major" =~ ^[0-9]+$ ]] && (( major >= 18 ))
}
if ! node_is_usable; then
  packages+=(nodejs npm)
fi

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == "installed" ]]
}

missing=()
for pkg in "${packages[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if (( ${#missing[@]} > 0 )); then
  sudo=()
  if (( EUID != 0 )); then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists only when they were never fetched or an install
  # fails on a stale list.
  if [[ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ]]; then
    "${sudo[@]}" apt-get update -qq >/dev/null
  fi
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    "${sudo[@]}" apt-get update -qq >/dev/null
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# Node packages of the web console's build (console/) and of the end-to-end
# suite (tests/e2e): reinstalled when node_modules is missing or was
# installed from a different lock file.
for node_dir in "$repo_dir/console" "$repo_dir/tests/e2e"; do
  [[ -f "$node_dir/package-lock.json" ]] || continue
  stamp="$node_dir/node_modules/.ferry-lock.sha256"
  want=$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)
  have=$(cat "$stamp" 2>/dev/null || true)
  if [[ "$want" != "$have" ]]; then
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" >"$stamp"
  fi
done
