# Thin wrapper over CMake. `make` builds, `make test` runs every test,
# `make asan` builds and tests with ASan+UBSan, `make demo` runs the demo.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps test unit asan demo clean

all: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/Makefile:
	@scripts/deps.sh build
	@cmake -S . -B $(BUILD) >/dev/null

deps:
	@scripts/deps.sh test

test: deps all
	@cd $(BUILD) && ctest --output-on-failure -j 1

unit: all
	@cd $(BUILD) && ctest --output-on-failure -L unit

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DUSTACK_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j 1

demo: deps all
	@scripts/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
