# minihttps — the two commands of the README, and the targets behind them.
#   make run            install what is missing, build, start minihttpsd on ./www
#   make test           install what is missing, build, run every test suite (ctest)
#   make test-sanitize  the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-tsan      the server, client and store tests and the short load test under ThreadSanitizer
#   make bench          core primitives vs openssl speed, minihttpsd vs nginx (docs/BENCHMARKS.md);
#                       never part of make test
#   make fuzz           libFuzzer targets (clang), FUZZ_SECONDS each (default 60); fuzz/README.md
#   make fuzz-smoke     the same, FUZZ_SMOKE_SECONDS each (default 20), as CI runs it
#   make format         reformat every C++ file with clang-format-14 (.clang-format)
#   make format-check   fail, naming the files, if any C++ file is not formatted (CI runs it first)
#   make soak           SOAK_CONNECTIONS (2000) concurrent connections (each an operation every ~3 s)
#                       for SOAK_SECONDS (60) against a
#                       real server; prints requests, errors, latency and server memory (docs/SECURITY.md)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8443
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 20
SOAK_SECONDS ?= 60
SOAK_CONNECTIONS ?= 2000

.PHONY: all deps build run test test-sanitize test-tsan bench fuzz-build fuzz fuzz-smoke soak format format-check clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target minihttpsd minihttps
	@echo "Starting minihttpsd on $(LISTEN), serving ./www (stop it with Ctrl-C)"
	@./build/release/src/minihttpsd --listen $(LISTEN) --root www --keys keys

test: build
	@ctest --preset release -j $(JOBS)

test-sanitize: deps
	@cmake --preset sanitize >/dev/null
	@cmake --build --preset sanitize -j $(JOBS)
	@ctest --preset sanitize -j $(JOBS)

test-tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS) --target server_tests client_tests store_tests load_tool
	@ctest --preset tsan -j $(JOBS) -L "server|client|store|concurrency"

bench: deps
	@scripts/install-deps.sh --bench
	@cmake --preset bench >/dev/null
	@cmake --build --preset bench -j $(JOBS)
	@bench/run.sh

fuzz-build:
	@scripts/install-deps.sh --fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

fuzz: fuzz-build
	@fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	@fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

soak: build
	@build/release/tests/load_tool --connections $(SOAK_CONNECTIONS) --seconds $(SOAK_SECONDS) \
	  --think-ms 3000 --ramp-seconds 10 --settle-seconds 12 --json build/release/soak.json

# One formatter version, because clang-format's output changes between releases.
CLANG_FORMAT ?= clang-format-14
FORMAT_FILES = $(shell git ls-files '*.cpp' '*.hpp')

format: deps
	@$(CLANG_FORMAT) -i $(FORMAT_FILES)

format-check: deps
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES) 2>&1 | grep -o '^[^:]*:[0-9]*' | sort -u -t: -k1,1 \
	  | sed 's/^/format-check: not formatted (make format): /' | tee /dev/stderr | (! grep -q .)

clean:
	rm -rf build
