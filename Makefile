# shoal — top-level Makefile. CMake does the building; this file is the
# front door: `make run`, `make cluster`, `make test`, `make sanitize`, `make fuzz`,
# `make bench`.

BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps build run cluster test sanitize fuzz-build fuzz bench fd-soak format clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

# One node on 127.0.0.1:6379 keeping its node id and log in $(RUN_DIR) (git
# ignores data/); `rm -rf data/run` starts it afresh. ARGS come after --dir,
# so ARGS="--dir elsewhere" wins; a conf file goes in CONF.
RUN_DIR ?= data/run
run: build
	@mkdir -p $(RUN_DIR)
	./$(BUILD_DIR)/shoal-server $(CONF) --dir $(RUN_DIR) $(ARGS)

# The local 3-node cluster of conf/node1..3.conf in the foreground (state in
# data/); Ctrl-C stops all three.
cluster: build
	@BUILD_DIR=$(BUILD_DIR) ./scripts/cluster.sh

# Unit and integration tests, plus a few seconds of each fuzz target (the
# fuzz-* tests, built in $(FUZZ_DIR) with clang).
test: build fuzz-build
	@./scripts/npm-setup.sh
	cd $(BUILD_DIR) && SHOAL_FUZZ_DIR=$(abspath $(FUZZ_DIR)) \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The same tests under ASan and UBSan (gcc, Debug), less the fuzz smoke tests
# (their targets carry both sanitizers already) and the integration tests
# labelled no-sanitize (tests/CMakeLists.txt says why each is).
sanitize: deps
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DSHOAL_SANITIZE=ON
	cmake --build $(ASAN_DIR) -j $(JOBS)
	@./scripts/npm-setup.sh
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE '^(fuzz|no-sanitize)$$' $(CTEST_ARGS)

# libFuzzer targets (tests/fuzz/): clang, ASan and UBSan, in $(FUZZ_DIR).
$(FUZZ_DIR)/CMakeCache.txt: | deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHOAL_FUZZ=ON

fuzz-build: deps $(FUZZ_DIR)/CMakeCache.txt
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_targets

# Each fuzz target for FUZZ_SECONDS over its seed corpus (FUZZ_TARGETS to
# pick some); new inputs go to $(FUZZ_DIR)/fuzz-corpus/, crashes to
# $(FUZZ_DIR)/fuzz-artifacts/ (the path is printed). Fails on any crash,
# leak, sanitizer report or violated invariant.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz: fuzz-build
	./tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: build
	/usr/bin/python3 bench/bench.py --shoal $(CURDIR)/$(BUILD_DIR)/shoal-server

# Ten minutes of saturating load on a 5-node cluster: the failure detector
# must declare no node failing (FD_SOAK_MINUTES to change the length).
FD_SOAK_MINUTES ?= 10
fd-soak: build
	/usr/bin/python3 bench/fd_soak.py --shoal $(CURDIR)/$(BUILD_DIR)/shoal-server --minutes $(FD_SOAK_MINUTES)

format:
	git ls-files '*.h' '*.cc' '*.c' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
