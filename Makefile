# shoal — top-level Makefile. CMake does the building; this file is the
# front door: `make run`, `make cluster`, `make test`, `make sanitize`, `make bench`.

BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps build run cluster test sanitize bench fd-soak format clean

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

test: build
	@./scripts/npm-setup.sh
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

sanitize: deps
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DSHOAL_SANITIZE=ON
	cmake --build $(ASAN_DIR) -j $(JOBS)
	@./scripts/npm-setup.sh
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

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
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
