# m2msec: the two commands a new user needs are `make run` and `make test`.
# Everything is built by CMake + Ninja; this file only names the build directories.
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_TARGETS := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
BUILD_RELEASE := build/release
BUILD_ASAN := build/asan
BUILD_FUZZ := build/fuzz
RUN_ARGS ?=

.PHONY: all deps build run test bench fuzz fuzz-smoke format clean soak valgrind

all: build

deps:
	@scripts/deps.sh build

$(BUILD_RELEASE)/build.ninja:
	cmake -S . -B $(BUILD_RELEASE) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD_RELEASE)/build.ninja
	cmake --build $(BUILD_RELEASE) -j $(JOBS)

# Installs, builds, and starts the IN-CSE in the foreground with development credentials.
run: build
	$(BUILD_RELEASE)/m2msec cse --data-dir ./var $(RUN_ARGS)

# Installs, builds with ASan+UBSan, runs every test under ctest (unit, corpus replays,
# integration), then a short libFuzzer smoke run of every target (FUZZ_SMOKE_SECONDS each).
test:
	@scripts/deps.sh test fuzz
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Asan
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS) --timeout 600
	$(MAKE) --no-print-directory fuzz-smoke

# Every libFuzzer target for FUZZ_SMOKE_SECONDS on its corpus; fails on any crash or timeout.
fuzz-smoke:
	CC=clang-14 cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DM2M_FUZZ=ON
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target $(FUZZ_TARGETS)
	tests/fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SMOKE_SECONDS)

bench:
	@scripts/deps.sh bench
	cmake -S . -B $(BUILD_RELEASE) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_RELEASE) -j $(JOBS)
	bench/run.sh $(BUILD_RELEASE)

fuzz:
	@scripts/deps.sh test fuzz
	CC=clang-14 cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DM2M_FUZZ=ON
	cmake --build $(BUILD_FUZZ) -j $(JOBS)
	tests/fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

# Reliability gates at soak scale on the ASan build: hostile clients (M2M_SOAK=1) and 50+
# kill -9 rounds, < 10 minutes. See docs/RELIABILITY.md.
soak:
	@scripts/deps.sh test
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Asan
	cmake --build $(BUILD_ASAN) -j $(JOBS) --target m2msec
	tests/soak/run.sh $(BUILD_ASAN)

# The integration tests with the server under valgrind memcheck (Debug build, no ASan).
# Zero reports is the bar. See docs/RELIABILITY.md.
valgrind:
	@scripts/deps.sh test
	cmake -S . -B build/valgrind -G Ninja -DCMAKE_BUILD_TYPE=Debug
	cmake --build build/valgrind -j $(JOBS) --target m2msec
	tests/soak/valgrind_run.sh build/valgrind
