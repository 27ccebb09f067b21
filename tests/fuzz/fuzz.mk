# tests/fuzz/fuzz.mk — libFuzzer harnesses (included by the top Makefile).
#
#   make fuzz         every target for FUZZ_SECONDS (600) or FUZZ_RUNS
#                     (10000000) executions, whichever comes first
#   make fuzz-smoke   every seed of every corpus, then a short pass of each
#                     target (FUZZ_SMOKE_SECONDS, 10); part of `make test`
#   make fuzz-build   only build the harnesses
#
# Everything a harness reaches is rebuilt with clang under
# -fsanitize=fuzzer-no-link,address,undefined into build/fuzz, apart from the
# normal build: the libraries, the generated protobuf code and the objects of
# the services a harness needs (all but main.c). Harnesses are
# tests/fuzz/fuzz_<target>.c, seeds tests/fuzz/corpus/<target>/; the runner
# is tests/fuzz/run.sh.

FZ_BUILD := build/fuzz
FZ_CC    := clang
FZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -pthread -O1 -g $(FZ_SAN) -fsanitize=fuzzer-no-link \
            $(foreach l,$(LIBNAMES),-Ilibs/$(l)/include) -I$(FZ_BUILD)/gen $(PKG_CFLAGS) -MMD -MP
# Project code keeps its own warnings (the normal build enforces them with
# gcc); clang's extra opinions must not break the fuzz build.
FZ_WARN  := -Wall -Wextra -Wno-unused-parameter -Wno-string-concatenation

# target -> the services whose objects it links
FZ_SVC_request    :=
FZ_SVC_http       :=
FZ_SVC_jwt        :=
FZ_SVC_rpc        :=
FZ_SVC_nlp        :=
FZ_SVC_item       := tools-gateway
FZ_SVC_csv        := tools-gateway
FZ_SVC_jsonl      := tools-gateway
FZ_SVC_event      := analytics-processor
FZ_SVC_filters    := analytics-query
FZ_SVC_routes     := tenant-manager

FZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FZ_BINS    := $(patsubst %,$(FZ_BUILD)/bin/fuzz_%,$(FZ_TARGETS))

FZ_PROTO_C   := $(patsubst proto/%.proto,$(FZ_BUILD)/gen/%.pb-c.c,$(PROTOS))
FZ_PROTO_H   := $(FZ_PROTO_C:.c=.h)
FZ_PROTO_OBJ := $(FZ_PROTO_C:.c=.o)
.SECONDARY: $(FZ_PROTO_C) $(FZ_PROTO_H)

$(FZ_BUILD)/gen/%.pb-c.c $(FZ_BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(FZ_BUILD)/gen
	@echo "  PROTOC  $< (fuzz)"
	$(Q)protoc-c --proto_path=proto --c_out=$(FZ_BUILD)/gen $<

$(FZ_BUILD)/gen/%.pb-c.o: $(FZ_BUILD)/gen/%.pb-c.c
	@echo "  FZCC    $<"
	$(Q)$(FZ_CC) $(FZ_FLAGS) -w -c $< -o $@

$(FZ_BUILD)/obj/%.o: %.c | $(FZ_PROTO_H)
	@mkdir -p $(@D)
	@echo "  FZCC    $<"
	$(Q)$(FZ_CC) $(FZ_FLAGS) $(FZ_WARN) -c $< -o $@

# One archive per library, platform carrying the protobuf code.
fz_lib_obj = $(patsubst %.c,$(FZ_BUILD)/obj/%.o,$(wildcard libs/$(1)/src/*.c))
define fz_lib_rules
$(FZ_BUILD)/lib/lib$(1).a: $$(call fz_lib_obj,$(1)) $(if $(filter platform,$(1)),$(FZ_PROTO_OBJ))
	@mkdir -p $$(@D)
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && $(AR) rcs $$@ $$^
endef
$(foreach l,$(LIBNAMES),$(eval $(call fz_lib_rules,$(l))))
FZ_ARCHIVES := $(foreach l,$(filter-out platform,$(LIBNAMES)) platform,$(FZ_BUILD)/lib/lib$(l).a)

fz_svc_obj = $(patsubst %.c,$(FZ_BUILD)/obj/%.o,$(filter-out %/main.c,$(wildcard services/$(1)/src/*.c)))
# Harnesses are our own code: the project's warnings, as errors.
define fz_bin_rules
$(FZ_BUILD)/bin/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(foreach s,$(FZ_SVC_$(1)),$$(call fz_svc_obj,$(s))) $(FZ_ARCHIVES) | $(FZ_PROTO_H)
	@mkdir -p $$(@D)
	@echo "  FZLD    $$@"
	$(Q)$(FZ_CC) $(FZ_FLAGS) $(WARN) -fsanitize=fuzzer -o $$@ $$< \
	  $(foreach s,$(FZ_SVC_$(1)),$$(call fz_svc_obj,$(s))) $(FZ_ARCHIVES) \
	  $(PKG_LIBS) -lmbedtls -lmbedx509 -lmbedcrypto -lm
endef
$(foreach t,$(FZ_TARGETS),$(eval $(call fz_bin_rules,$(t))))

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build: $(FZ_BINS)

fuzz: fuzz-build
	@tests/fuzz/run.sh long $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@tests/fuzz/run.sh smoke $(FUZZ_TARGETS)

-include $(shell find $(FZ_BUILD)/obj $(FZ_BUILD)/gen $(FZ_BUILD)/bin -name '*.d' 2>/dev/null)
