# Ferry: build, run and test.
#
#   make run  [ARGS="--listen 127.0.0.1:8080 --data var"]   build and start the server
#   make test                                               unit + integration + fault + fuzz (short) + Node e2e
#   make fuzz [FUZZ_SECONDS=300] [FUZZ_TARGETS="manifest_fuzz ..."]   libFuzzer targets (clang, ASan+UBSan)
#   make test-sanitize                                      unit + integration under ASan+UBSan, copy under TSan
#   make bench [BENCH=import_bench] [ARGS=...]              bench/$(BENCH).sh, e.g. BENCH=disks_bench
#   make cluster | cluster-stop                             two regions x two nodes on PostgreSQL + Ceph (docs/deploy.md)
#   make build | deps | format | clean
#
# Everything goes through scripts/install-deps.sh first, so a fresh clone on a
# fresh Debian 12 machine needs nothing else.

BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FERRY      := $(BUILD_DIR)/src/cli/ferry
ARGS       ?=
BENCH      ?= import_bench

# ccache keys on paths relative to the clone, so a fresh clone (as CI makes)
# reuses the cache of an earlier one.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true

MAKEFLAGS += --no-print-directory
.DEFAULT_GOAL := build
.PHONY: deps build run test test-unit test-integration test-fault test-e2e bench format clean \
        fuzz fuzz-build test-fuzz test-sanitize asan-build tsan-build cluster cluster-stop

# Sanitizer and fuzzing builds: clang, each in its own build directory.
FUZZ_DIR          ?= build-fuzz
ASAN_DIR          ?= build-asan
TSAN_DIR          ?= build-tsan
FUZZ_SECONDS      ?= 300
FUZZ_TEST_SECONDS ?= 20
FUZZ_TARGETS      ?=
# -O1 and line tables only: half the compile time of -O2 -g, and the
# sanitizers' reports still name file and line. (CMakeLists.txt builds the
# HTTP/CLI glue at -O0 in these builds, and tests/ without libFuzzer's
# coverage: the cold CI run's compile time is mostly these builds.)
SANITIZER_CMAKE   := -G Ninja -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo \
                     -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
                     -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -Wno-dev --log-level=WARNING
export ASAN_OPTIONS  ?= halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS ?= halt_on_error=1:abort_on_error=1:print_stacktrace=1
export TSAN_OPTIONS  ?= halt_on_error=1:second_deadlock_stack=1

deps:
	@scripts/install-deps.sh

# RelWithDebInfo with line tables only (-g1): backtraces and perf name file
# and line, at three quarters of -O2 -g's compile time.
$(BUILD_DIR)/build.ninja:
	@cmake -G Ninja -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -Wno-dev --log-level=WARNING >/dev/null

# ninja re-runs cmake by itself when a CMakeLists.txt or a globbed folder changes.
build: deps $(BUILD_DIR)/build.ninja
	@ninja -C $(BUILD_DIR) -j $(JOBS) --quiet

run: build
	@exec $(FERRY) serve $(ARGS)

# The scale-out shape on this machine (scripts/cluster.sh): stays up until
# `make cluster-stop`.
cluster: build
	@FERRY_BIN="$(abspath $(FERRY))" scripts/cluster.sh start

cluster-stop:
	@scripts/cluster.sh stop

# Unit tests first: they are fast and point at the broken layer. Each step
# fails the make on its own, and the e2e step is last, so the final line
# printed is node's test summary.
test: build
	@$(MAKE) test-unit
	@$(MAKE) test-integration
	@$(MAKE) test-fault
	@$(MAKE) test-fuzz
	@$(MAKE) test-e2e

test-unit:
	@cd $(BUILD_DIR) && ctest --output-on-failure -j 2 -L unit

test-integration:
	@cd $(BUILD_DIR) && ctest --output-on-failure -j 2 -L integration

# kill -9, network partitions (as root) and full disks; a few minutes.
test-fault:
	@cd $(BUILD_DIR) && ctest --output-on-failure -L fault

# Console screenshots (tests/e2e/console.test.js) land in $(BUILD_DIR)/e2e-artifacts.
test-e2e:
	@FERRY_BIN="$(abspath $(FERRY))" FERRY_E2E_ARTIFACTS="$(abspath $(BUILD_DIR))/e2e-artifacts" node --test --test-reporter=spec --test-timeout=600000 tests/e2e/*.test.js

# libFuzzer targets (tests/fuzz): FUZZ_SECONDS each for `make fuzz`,
# FUZZ_TEST_SECONDS each in `make test`, two at a time.
$(FUZZ_DIR)/build.ninja:
	@cmake $(SANITIZER_CMAKE) -B $(FUZZ_DIR) -DFERRY_FUZZ=ON -DFERRY_SANITIZE=address,undefined >/dev/null

fuzz-build: deps $(FUZZ_DIR)/build.ninja
	@ninja -C $(FUZZ_DIR) -j $(JOBS) --quiet fuzzers

fuzz: fuzz-build
	@JOBS=$(JOBS) tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-fuzz: fuzz-build
	@JOBS=$(JOBS) tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_TEST_SECONDS) $(FUZZ_TARGETS)

# Unit and integration suites under ASan+UBSan; the copy layer's unit tests
# (copy scheduler, puller, peer client) under TSan.
# The ASan build uses the fuzz build's very flags (coverage instrumentation
# included), so ccache compiles src/ once for both.
$(ASAN_DIR)/build.ninja:
	@cmake $(SANITIZER_CMAKE) -B $(ASAN_DIR) -DFERRY_FUZZ=ON -DFERRY_SANITIZE=address,undefined >/dev/null

$(TSAN_DIR)/build.ninja:
	@cmake $(SANITIZER_CMAKE) -B $(TSAN_DIR) -DFERRY_SANITIZE=thread >/dev/null

asan-build: deps $(ASAN_DIR)/build.ninja
	@ninja -C $(ASAN_DIR) -j $(JOBS) --quiet

tsan-build: deps $(TSAN_DIR)/build.ninja
	@ninja -C $(TSAN_DIR) -j $(JOBS) --quiet copy_unit_tests

test-sanitize: asan-build tsan-build
	@cd $(ASAN_DIR) && ctest --output-on-failure -j 2 -L 'unit|integration'
	@cd $(TSAN_DIR) && setarch -R tests/copy_unit_tests --gtest_brief=1

bench: build
	@FERRY_BIN="$(abspath $(FERRY))" bench/$(BENCH).sh $(ARGS)

format:
	@scripts/install-deps.sh --format
	@git ls-files -z -- '*.h' '*.cc' | xargs -0 -r clang-format -i

clean:
	@rm -rf $(BUILD_DIR) $(FUZZ_DIR) $(ASAN_DIR) $(TSAN_DIR)
