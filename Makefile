# Serphona — one GNU make for the whole suite; everything builds out of tree.
#
#   make            build libraries, the seven services, the dev broker, tests
#   make deps       install every Debian package the build, tests and stack need
#   make test       deps + build + unit, integration and sanitizer suites
#   make unit-test  build + every unit test (server tests against a private stack)
#   make unit-test-pure  build + the unit tests that need no server
#   make check      build + the fast ones of those (seconds; not SLOW_TEST_SRC)
#   make run        deps + build + local stack + services + demo data
#   make bench      deps + build + benchmarks (prints figures and ratios)
#   make lint       cppcheck + clang-tidy + clang-format check
#   make fuzz       libFuzzer harnesses, long run (tests/fuzz; fuzz-smoke: short)
#   make clean
#
# SAN=1 builds with AddressSanitizer + UBSan (default dir build/asan).

SAN     ?=
ifeq ($(SAN),1)
BUILD   ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     := -O1
else
BUILD   ?= build
SANFLAGS :=
OPT     := -O2
endif

CC      ?= cc
PKGS    := libmicrohttpd libprotobuf-c libczmq libzmq libpq rdkafka hiredis libcjson libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

LIBNAMES := $(notdir $(wildcard libs/*))
INCLUDES := $(foreach l,$(LIBNAMES),-Ilibs/$(l)/include) -I$(BUILD)/gen -Itests/support/include

# -Wconversion is left out: protobuf-c, libpq and libmicrohttpd APIs mix int,
# size_t and uint64_t so often that the casts it demands would hide real bugs.
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) $(SANFLAGS) \
              $(INCLUDES) $(PKG_CFLAGS) -MMD -MP
LDFLAGS_ALL := -pthread $(SANFLAGS) $(LDFLAGS)
LDLIBS_ALL  := $(PKG_LIBS) -lmbedtls -lmbedx509 -lmbedcrypto -lm

# Quiet by default; `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

# --- protobuf -------------------------------------------------------------
PROTOS     := $(wildcard proto/*.proto)
PROTO_C    := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H    := $(PROTO_C:.c=.h)
PROTO_OBJ  := $(PROTO_C:.c=.o)
# Generated sources are kept, not deleted as intermediates.
.SECONDARY: $(PROTO_C) $(PROTO_H)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	@echo "  PROTOC  $<"
	$(Q)protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	@echo "  CC      $<"
	$(Q)$(CC) -std=gnu11 $(CFLAGS) $(SANFLAGS) -Wall -Werror $(PKG_CFLAGS) -I$(BUILD)/gen -c $< -o $@

# --- static libraries: libs/<name>/src/*.c -> $(BUILD)/lib/lib<name>.a -------
# libplatform also carries the generated protobuf code.
define lib_rules
$(1)_SRC := $$(wildcard libs/$(1)/src/*.c)
$(1)_OBJ := $$(patsubst libs/$(1)/src/%.c,$(BUILD)/obj/libs/$(1)/src/%.o,$$($(1)_SRC))
$(BUILD)/lib/lib$(1).a: $$($(1)_OBJ) $(if $(filter platform,$(1)),$(PROTO_OBJ))
	@mkdir -p $$(@D)
	@echo "  AR      $$@"
	$(Q)$(AR) rcs $$@ $$^
endef
$(foreach l,$(LIBNAMES),$(eval $(call lib_rules,$(l))))
# Link order: higher-level libraries first, platform last.
LIB_ARCHIVES := $(foreach l,$(filter-out platform,$(LIBNAMES)) platform,$(BUILD)/lib/lib$(l).a)

$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# --- services: services/<name>/src/*.c -> $(BUILD)/bin/<name> ---------------
SERVICES := $(notdir $(wildcard services/*))
define svc_rules
$(1)_OBJ := $$(patsubst %.c,$(BUILD)/obj/%.o,$$(wildcard services/$(1)/src/*.c))
$(BUILD)/bin/$(1): $$($(1)_OBJ) $(LIB_ARCHIVES)
	@mkdir -p $$(@D)
	@echo "  LD      $$@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $$@ $$($(1)_OBJ) $(LIB_ARCHIVES) $(LDLIBS_ALL)
endef
$(foreach s,$(SERVICES),$(eval $(call svc_rules,$(s))))
SERVICE_BINS := $(foreach s,$(SERVICES),$(BUILD)/bin/$(s))

# --- tools: deploy/<tool>/*.c and tests/bench/*.c, one binary per file -------
BROKER_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard deploy/dev-broker/*.c))
$(BUILD)/bin/serphona-dev-broker: $(BROKER_OBJ) $(LIB_ARCHIVES)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(BROKER_OBJ) $(LIB_ARCHIVES) $(LDLIBS_ALL)

# deploy/tools/<name>.c -> $(BUILD)/bin/<name>: operator tools on libplatform.
TOOL_BINS := $(patsubst deploy/tools/%.c,$(BUILD)/bin/%,$(wildcard deploy/tools/*.c))
$(BUILD)/bin/%: $(BUILD)/obj/deploy/tools/%.o $(LIB_ARCHIVES)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIB_ARCHIVES) $(LDLIBS_ALL)

BENCH_SRC  := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIB_ARCHIVES)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIB_ARCHIVES) $(LDLIBS_ALL)

# --- unit tests: libs/*/tests/test_*.c and services/*/tests/test_*.c --------
# A service test links the service's objects except main.o. Every unit test
# also links libsptest.a (tests/support: JSON-path assertions, in-process
# requests, EXPECT, stack fixtures), which nothing else links; it is not
# under libs/ because every libs/* library is linked into the services.
UNIT_SRC  := $(wildcard libs/*/tests/test_*.c) $(wildcard services/*/tests/test_*.c) \
             $(wildcard tests/support/tests/test_*.c)
UNIT_BINS := $(patsubst %.c,$(BUILD)/%,$(UNIT_SRC))
SPTEST_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/support/src/*.c))
SPTEST_LIB := $(BUILD)/lib/libsptest.a
$(SPTEST_LIB): $(SPTEST_OBJ)
	@mkdir -p $(@D)
	@echo "  AR      $@"
	$(Q)$(AR) rcs $@ $^

# Server tests: the unit tests that need the private PostgreSQL / Redis /
# ClickHouse / Kafka stack (they read SERPHONA_TEST_*, usually through
# sptest/stack.h). The rule is this list: a test that needs a server is
# named here, every other unit test is pure (no server, no network beyond
# loopback sockets it opens itself) and runs in `make unit-test-pure`. A
# server test missing from the list fails there with "SERPHONA_TEST_... is
# not set", never passes by testing nothing.
SERVER_TEST_SRC := \
  libs/platform/tests/test_ch_migrate.c libs/platform/tests/test_clickhouse.c \
  libs/platform/tests/test_db.c libs/platform/tests/test_redis.c \
  libs/platform/tests/test_tenant_client.c \
  services/analytics-processor/tests/test_retention.c \
  services/analytics-processor/tests/test_store.c \
  $(wildcard services/analytics-query/tests/test_routes*.c) \
  services/analytics-query/tests/test_rollup_backfill.c \
  services/auth-gateway/tests/test_gateway.c \
  $(wildcard services/tenant-manager/tests/test_*.c) \
  $(wildcard services/tools-gateway/tests/test_ingest*.c) \
  services/tools-gateway/tests/test_reconcile.c
PURE_UNIT_BINS := $(patsubst %.c,$(BUILD)/%,$(filter-out $(SERVER_TEST_SRC),$(UNIT_SRC)))
# Pure but slow (the test_events_* binaries wait out librdkafka mock-cluster
# timeouts, 15-25 s each): left out of `make check`, run by unit-test-pure
# and up.
SLOW_TEST_SRC := $(wildcard libs/platform/tests/test_events*.c)
CHECK_BINS := $(filter-out $(patsubst %.c,$(BUILD)/%,$(SLOW_TEST_SRC)),$(PURE_UNIT_BINS))
svc_of = $(word 2,$(subst /, ,$(1)))
# A variable, because a literal % in a pattern rule's prerequisites would be
# replaced by the stem.
MAIN_OBJ_PAT := %/main.o
# Objects reached only through pattern rules are kept, not deleted as
# intermediates, so a rebuild compiles only what changed.
.SECONDARY: $(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_SRC) $(BENCH_SRC) $(wildcard deploy/tools/*.c))
.SECONDEXPANSION:
$(BUILD)/libs/%: $(BUILD)/obj/libs/%.o $(SPTEST_LIB) $(LIB_ARCHIVES)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(SPTEST_LIB) $(LIB_ARCHIVES) $(LDLIBS_ALL) -lcmocka
$(BUILD)/tests/support/%: $(BUILD)/obj/tests/support/%.o $(SPTEST_LIB) $(LIB_ARCHIVES)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(SPTEST_LIB) $(LIB_ARCHIVES) $(LDLIBS_ALL) -lcmocka
$(BUILD)/services/%: $(BUILD)/obj/services/%.o $$(filter-out $$(MAIN_OBJ_PAT),$$($$(call svc_of,services/$$*)_OBJ)) $(SPTEST_LIB) $(LIB_ARCHIVES)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# --- top-level targets -----------------------------------------------------
.PHONY: all deps test unit-test unit-test-pure check run bench lint clean format
all: $(SERVICE_BINS) $(BUILD)/bin/serphona-dev-broker $(TOOL_BINS) $(UNIT_BINS) $(BENCH_BINS)

deps:
	@deploy/deps.sh

test: deps
	@tests/run-all.sh

# Every unit test of $(BUILD), against one private stack (tests/run-all.sh
# --unit); `make test` runs these too, plain and under ASan.
unit-test: $(UNIT_BINS) $(BUILD)/bin/serphona-dev-broker
	@tests/run-all.sh --unit $(BUILD) $(UNIT_BINS)

# The pure unit tests only: no stack is started.
unit-test-pure: $(PURE_UNIT_BINS)
	@tests/run-all.sh --unit-pure $(BUILD) $(PURE_UNIT_BINS)

# The fast pure ones (all but SLOW_TEST_SRC): seconds, for every edit.
check: $(CHECK_BINS)
	@tests/run-all.sh --unit-pure $(BUILD) $(CHECK_BINS)

run: deps
	@$(MAKE) --no-print-directory all
	@deploy/local/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

LINT_SRC := $(shell find libs services deploy tests -name '*.c' -o -name '*.h' 2>/dev/null)
# cppcheck does not read system headers, so it needs protobuf-c's version to
# get past the generated headers' version check.
PBC_VERSION_NUMBER := $(shell pkg-config --modversion libprotobuf-c 2>/dev/null | \
                        awk -F. '{printf "%d%03d%03d", $$1, $$2, $$3}')
lint: deps
	@$(MAKE) --no-print-directory all
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem $(INCLUDES) -D__GNUC__ \
	  -DPROTOBUF_C_VERSION_NUMBER=$(PBC_VERSION_NUMBER) $(LINT_SRC)
	@# One file per run: clang-tidy 14 reports false valist errors in every
	@# file but the first when given several at once.
	@rc=0; for f in $(filter %.c,$(LINT_SRC)); do \
	  clang-tidy --quiet $$f -- -std=gnu11 -D_GNU_SOURCE $(INCLUDES) $(PKG_CFLAGS) 2>/dev/null || rc=1; \
	done; exit $$rc
	clang-format --dry-run --Werror $(LINT_SRC)

format:
	clang-format -i $(LINT_SRC)

clean:
	rm -rf build

-include tests/fuzz/fuzz.mk
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
