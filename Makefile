# Thin wrapper over CMake. `make` builds, `make test` runs every test,
# `make asan` builds and tests with ASan+UBSan, `make demo` runs the demo,
# `make fuzz` runs each libFuzzer target for FUZZ_SECONDS (clang); `make test`
# ends with the same run, FUZZ_SMOKE_SECONDS per target.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
# `make test` ends with a short fuzz run of each target (issue 7).
FUZZ_SMOKE_SECONDS ?= 20
JOBS ?= $(shell nproc)

.PHONY: all deps test unit asan demo fuzz clean

all: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/Makefile:
	@scripts/deps.sh build
	@cmake -S . -B $(BUILD) >/dev/null

deps:
	@scripts/deps.sh test

test: deps all
	@cd $(BUILD) && ctest --output-on-failure -j 1
	@JOBS=$(JOBS) scripts/fuzz-smoke.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BUILD)

unit: all
	@cd $(BUILD) && ctest --output-on-failure -L unit

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DUSTACK_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j 1

demo: deps all
	@scripts/demo.sh $(BUILD)

# Each target over a copy of its seed corpus, -max_len=4096; see
# scripts/fuzz-smoke.sh.
fuzz:
	@scripts/deps.sh fuzz
	@JOBS=$(JOBS) scripts/fuzz-smoke.sh $(FUZZ_SECONDS) $(FUZZ_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# Benchmarks against the Linux kernel (root: they make their own network
# namespaces). Not tests: nothing here is in CTest. See bench/README.md.
.PHONY: bench bench-quick
bench: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) --target ustack-bench
	@bash bench/run.sh $(BUILD)

bench-quick: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) --target ustack-bench
	@bash bench/run.sh --quick $(BUILD)
