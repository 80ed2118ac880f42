# faultline — one binary, build/faultline. See README.md.
CC      ?= cc

# The libraries' flags come from pkg-config. They are looked up once, when a compile first needs
# them (a lazily evaluated variable, cached on first use), never while make parses this file: on a
# bare machine `make demo` / `make test` install pkg-config and the -dev packages first (the
# `deps` step, scripts/install-deps.sh) and only then build, in a second make.
PKGS    := libevent inih hiredis jansson libpq openssl libnghttp2
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pkgq,--cflags))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $(call pkgq,--libs) -lhttp_parser -lm)$(PKG_LIBS)
pkgq = $(if $(shell command -v pkg-config),$(if $(shell pkg-config --exists $(PKGS) && echo y),$(shell pkg-config $(1) $(PKGS)),$(error pkg-config cannot find: $(shell for p in $(PKGS); do pkg-config --exists $$p || echo $$p; done) -- run `make deps` (as root) first)),$(error pkg-config is not installed -- run `make deps` (as root) first))
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
OPT     ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) $(OPT) -I. $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS)
BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=

# the layers, one folder each (docs/architecture.md)
LAYERS := common faults record proxy proxy/protocols control verify run cli
SRC := $(foreach d,$(LAYERS),$(wildcard $(d)/*.c))
OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(SRC))
LIBOBJ := $(filter-out $(BUILD)/obj/cli/main.o,$(OBJ))
UNIT_SRC := $(wildcard tests/unit/*.c)
TESTBIN_SRC := $(wildcard tests/peers/*.c)
TESTBINS := $(patsubst tests/peers/%.c,$(BUILD)/t/%,$(TESTBIN_SRC))

.PHONY: all deps test asan clean install demo bench unit tools
all: $(BUILD)/faultline tools examples

$(BUILD)/faultline: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# -MMD -MP: each object depends on exactly the headers it includes (build/obj/**/*.d)
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(OBJ:.o=.d)

$(BUILD)/unit: $(UNIT_SRC) $(LIBOBJ)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $(UNIT_SRC) $(LIBOBJ) $(LDFLAGS) $(LDLIBS)

# small C test peers: upstreams, clients (tests/peers/*.c, one binary each). They are not what is
# under test: `make asan` builds them with TOOL_OPT (no sanitizers), so a peer's own exit-time
# leak report never fails a test of faultline. The quarantine is kept small (16 MiB) so that
# freed memory held by ASan does not read as growth in the RSS-bounded tests. Reports of the
# sanitized binaries (faultline, unit) go to build-asan/reports/; any report fails `make asan`
# even when the test that provoked it passed.
TOOL_OPT ?= $(OPT)
$(BUILD)/t/%: tests/peers/%.c $(wildcard tests/peers/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(TOOL_OPT) -I. $(PKG_CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

tools: $(TESTBINS)

# the example service (examples/service/): the demo's and the bug catalog's subject
.PHONY: examples
examples: $(BUILD)/examples/service go-examples
$(BUILD)/examples/service: examples/service/service.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

deps:
	@scripts/install-deps.sh

unit: $(BUILD)/unit
	$(BUILD)/unit

# The suite: unit tests, then integration tests against real processes, JOBS scripts at a time
# (tests/run.sh's lanes; JOBS=1 runs them one by one).
JOBS ?= 3
test: deps
	@$(MAKE) --no-print-directory -j2 all $(BUILD)/unit
	@$(MAKE) --no-print-directory -s -j2 fuzz   # built here, not inside fuzz_smoke.sh's time limit
	@JOBS=$(JOBS) tests/run.sh $(BUILD)

asan: deps
	@rm -rf build-asan/t
	@$(MAKE) --no-print-directory -j2 BUILD=build-asan CC=clang \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  TOOL_OPT="-O2 -g" all build-asan/unit
	@$(MAKE) --no-print-directory -s -j2 fuzz
	@rm -rf build-asan/reports && mkdir -p build-asan/reports
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:quarantine_size_mb=16:log_path=$(CURDIR)/build-asan/reports/asan \
	  UBSAN_OPTIONS=print_stacktrace=1:log_path=$(CURDIR)/build-asan/reports/ubsan \
	  JOBS=$(JOBS) tests/run.sh build-asan; rc=$$?; \
	  if ls build-asan/reports/* >/dev/null 2>&1; then \
	    echo "asan: sanitizer reports (build-asan/reports/):"; head -n 40 build-asan/reports/*; exit 1; fi; \
	  exit $$rc

# The integration suite with faultline under valgrind memcheck (scripts/valgrind.sh).
.PHONY: valgrind
valgrind: all
	@scripts/valgrind.sh $(BUILD)

# the demo installs only what it needs (install-deps.sh demo); make deps / test / asan install all
demo:
	@scripts/install-deps.sh demo
	@$(MAKE) --no-print-directory -j2 all
	@scripts/demo.sh

bench: all
	@bench/passthrough.sh

install: $(BUILD)/faultline
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/faultline/profiles/scenarios
	install -m 0755 $(BUILD)/faultline $(DESTDIR)$(PREFIX)/bin/faultline
	install -m 0644 profiles/*.ini $(DESTDIR)$(PREFIX)/share/faultline/profiles/
	install -m 0644 profiles/scenarios/*.ini $(DESTDIR)$(PREFIX)/share/faultline/profiles/scenarios/
	install -d $(DESTDIR)$(PREFIX)/share/doc/faultline/docs/dev
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/faultline/
	install -m 0644 $(wildcard docs/*.md) $(DESTDIR)$(PREFIX)/share/doc/faultline/docs/
	install -m 0644 $(wildcard docs/dev/*.md) $(DESTDIR)$(PREFIX)/share/doc/faultline/docs/dev/

clean:
	rm -rf $(BUILD) build build-asan build-clang build-fuzz

# ---- fuzzing (libFuzzer, clang): harnesses are tests/fuzz/fuzz_*.c, seeds tests/fuzz/corpus/NAME/
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 600
.PHONY: fuzz fuzz-bins fuzz-smoke
fuzz:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang \
	  OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN)" fuzz-bins

fuzz-bins: $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

$(BUILD)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBOBJ) $(LDFLAGS) $(LDLIBS)

# Each harness for FUZZ_SECONDS (default 600 = the issue's 10 minutes) on a copy of its seeds.
fuzz-run: fuzz
	@scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

# 60 s in all, split between the harnesses; part of `make test` (tests/hardening/fuzz_smoke.sh).
fuzz-smoke: fuzz
	@scripts/fuzz.sh build-fuzz smoke

# ---- the Go example service (issue 11), built when Go is installed (Debian's golang-go).
# Standard library only, so it builds offline: no proxy, no module downloads; the build cache
# and GOPATH live under $(BUILD)/go. -trimpath keeps the file names in its goroutine profiles
# short and the same on every machine (tests/fixtures/goprof/ were captured from it).
GO ?= go
.PHONY: go-examples
go-examples:
	@if command -v $(GO) >/dev/null 2>&1; then $(MAKE) --no-print-directory $(BUILD)/examples/go-service; \
	else echo "go not installed: skipping examples/go-service (apt-get install golang-go)"; fi
$(BUILD)/examples/go-service: $(wildcard examples/go-service/*.go) examples/go-service/go.mod
	@mkdir -p $(dir $@) $(BUILD)/go/cache $(BUILD)/go/path
	cd examples/go-service && GOPROXY=off GOFLAGS= GO111MODULE=on CGO_ENABLED=0 \
	  GOCACHE=$(abspath $(BUILD))/go/cache GOPATH=$(abspath $(BUILD))/go/path \
	  $(GO) build -trimpath -o $(abspath $@) .
