# Ferry: build, run and test.
#
#   make run  [ARGS="--listen 127.0.0.1:8080 --data var"]   build and start the server
#   make test                                               unit + integration + fault + Node e2e
#   make build | deps | bench | format | clean
#
# Everything goes through scripts/install-deps.sh first, so a fresh clone on a
# fresh Debian 12 machine needs nothing else.

BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FERRY      := $(BUILD_DIR)/src/cli/ferry
ARGS       ?=

# ccache keys on paths relative to the clone, so a fresh clone (as CI makes)
# reuses the cache of an earlier one.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true

MAKEFLAGS += --no-print-directory
.DEFAULT_GOAL := build
.PHONY: deps build run test test-unit test-integration test-fault test-e2e bench format clean

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	@cmake -G Ninja -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -Wno-dev --log-level=WARNING >/dev/null

# ninja re-runs cmake by itself when a CMakeLists.txt or a globbed folder changes.
build: deps $(BUILD_DIR)/build.ninja
	@ninja -C $(BUILD_DIR) -j $(JOBS) --quiet

run: build
	@exec $(FERRY) serve $(ARGS)

# Unit tests first: they are fast and point at the broken layer. Each step
# fails the make on its own, and the e2e step is last, so the final line
# printed is node's test summary.
test: build
	@$(MAKE) test-unit
	@$(MAKE) test-integration
	@$(MAKE) test-fault
	@$(MAKE) test-e2e

test-unit:
	@cd $(BUILD_DIR) && ctest --output-on-failure -j 2 -L unit

test-integration:
	@cd $(BUILD_DIR) && ctest --output-on-failure -j 2 -L integration

# kill -9, network partitions (as root) and full disks; a few minutes.
test-fault:
	@cd $(BUILD_DIR) && ctest --output-on-failure -L fault

test-e2e:
	@FERRY_BIN="$(abspath $(FERRY))" node --test --test-reporter=spec --test-timeout=600000 tests/e2e/*.test.js

bench: build
	@FERRY_BIN="$(abspath $(FERRY))" bench/import_bench.sh $(ARGS)

format:
	@scripts/install-deps.sh --format
	@git ls-files -z -- '*.h' '*.cc' | xargs -0 -r clang-format -i

clean:
	@rm -rf $(BUILD_DIR)
