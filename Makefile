# AUTON integrator - top-level build.
#
#   make          build every host program into build/
#   make deps     install missing Debian packages (idempotent, quiet when done)
#   make test     deps + build + unit tests (ASan/UBSan) + short fuzz + e2e tests
#   make demo     the README's main job
#   make bench    benchmarks, printed as a table
#   make fuzz     the GGUF parser fuzzer, longer (FUZZ_SECONDS, default 60)
#
# Sources are discovered, so adding a file never touches this Makefile:
#   kernel-tree/kernel/slm/neural/*.c + kernel-tree/lib/{kfmt,kmath}.c -> libslm.a
#   src/common/*.c                                                    -> libautcommon.a
#   src/qemu/*.c                                                      -> libautqemu.a
#   src/kernel/*.c                                                    -> libautkernel.a
#   src/agents/*.c                                                    -> libautagents.a
#   src/orchestrator/*.c (but autond.c)                               -> libautorch.a
#   src/orchestrator/autond.c                                         -> build/bin/autond
#   src/cli/*.c                                                       -> build/bin/autonctl
#   tools/<tool>/*.c                                                  -> build/bin/<tool>
#   tests/unit/test_<name>.c                                          -> build/asan/tests/test_<name>

CC      ?= cc
CLANG   ?= clang
BUILD   := build
KT      := kernel-tree
SLM_DIR := $(KT)/kernel/slm/neural
PYTEST  := /usr/bin/python3 -m pytest

SLM_SRCS    := $(sort $(filter-out $(SLM_DIR)/gguf_loader.c,$(wildcard $(SLM_DIR)/*.c))) $(KT)/lib/kfmt.c $(KT)/lib/kmath.c
COMMON_SRCS := $(sort $(wildcard src/common/*.c))
QEMU_SRCS   := $(sort $(wildcard src/qemu/*.c))
KERNEL_SRCS := $(sort $(wildcard src/kernel/*.c))
AGENT_SRCS  := $(sort $(wildcard src/agents/*.c))
ORCH_SRCS   := $(sort $(filter-out src/orchestrator/autond.c,$(wildcard src/orchestrator/*.c)))
CLI_SRCS    := $(sort $(wildcard src/cli/*.c))
TOOLS       := $(notdir $(patsubst %/,%,$(sort $(dir $(wildcard tools/*/*.c)))))
UNIT_SRCS   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_HELPER := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))

# The project's own headers are found for "..." includes only (-iquote), so a
# header of ours never shadows a system one of the same name (src/common/archive.h
# and libarchive's <archive.h>).
INCLUDES  := -I$(KT) -I$(SLM_DIR) -iquote src/common -iquote src/qemu -iquote src/kernel \
             -iquote src/agents -iquote src/orchestrator -iquote src/cli
# -Wno-format-truncation: gcc flags every snprintf of a PATH_MAX path plus a
# suffix into a PATH_MAX buffer; such names are cut, never overflowed, and the
# config refuses directories too long to hold the files under them.
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
             -Wno-format-truncation
CSTD      := -std=c11 -D_GNU_SOURCE -fno-math-errno
OPT_FLAGS := -O2 -g
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
HOST_LIBS := -lcjson -lcrypto -lm
# The integrator's libraries (libgit2 only in src/kernel/workspace.c, libelf only in
# src/kernel/elfcheck.c, inih only in src/common/config.c, SQLite only in
# src/orchestrator/db.c, http-parser only in src/orchestrator/http.c, libcurl only in
# src/common/httpc.c, libarchive only in src/common/archive.c).
AUT_LIBS  := -lgit2 -lelf -linih -lsqlite3 -lcurl -larchive -lhttp_parser -lpthread
UV_LIBS   := -luv

CFLAGS_OPT := $(CSTD) $(WARN) $(INCLUDES) $(OPT_FLAGS) $(EXTRA_CFLAGS)
CFLAGS_SAN := $(CSTD) $(WARN) $(INCLUDES) $(SAN_FLAGS) $(EXTRA_CFLAGS)

# object lists per flavour
obj_opt = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
obj_san = $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(1))

LIBSLM_OPT    := $(BUILD)/lib/libslm.a
LIBSLM_SAN    := $(BUILD)/asan/lib/libslm.a
LIBCOMMON_OPT := $(BUILD)/lib/libautcommon.a
LIBCOMMON_SAN := $(BUILD)/asan/lib/libautcommon.a
LIBQEMU_OPT   := $(BUILD)/lib/libautqemu.a
LIBQEMU_SAN   := $(BUILD)/asan/lib/libautqemu.a
LIBKERNEL_OPT := $(BUILD)/lib/libautkernel.a
LIBKERNEL_SAN := $(BUILD)/asan/lib/libautkernel.a
LIBAGENTS_OPT := $(BUILD)/lib/libautagents.a
LIBAGENTS_SAN := $(BUILD)/asan/lib/libautagents.a
LIBORCH_OPT   := $(BUILD)/lib/libautorch.a
LIBORCH_SAN   := $(BUILD)/asan/lib/libautorch.a
# Every host library, for the programs and tests that link them all
# (static archives: only the objects used are pulled in).
AUT_OPT := $(LIBORCH_OPT) $(LIBAGENTS_OPT) $(LIBKERNEL_OPT) $(LIBQEMU_OPT) $(LIBCOMMON_OPT) $(LIBSLM_OPT)
AUT_SAN := $(LIBORCH_SAN) $(LIBAGENTS_SAN) $(LIBKERNEL_SAN) $(LIBQEMU_SAN) $(LIBCOMMON_SAN) $(LIBSLM_SAN)
AUTONCTL      := $(BUILD)/bin/autonctl
AUTOND        := $(BUILD)/bin/autond
TOOL_BINS     := $(addprefix $(BUILD)/bin/,$(TOOLS))
UNIT_BINS     := $(patsubst tests/unit/%.c,$(BUILD)/asan/tests/%,$(UNIT_SRCS))
FUZZ_BIN      := $(BUILD)/fuzz/fuzz_gguf
FUZZ_SECONDS  ?= 60

.PHONY: all deps test unit e2e fuzz fuzz-smoke bench demo clean format
.DEFAULT_GOAL := all

all: $(TOOL_BINS) $(AUTONCTL) $(AUTOND) $(AUT_SAN) $(BUILD)/freestanding/slm.o

# The engine as the kernel's ring-3 SLM task gets it: -ffreestanding -nostdlib,
# SIMD allowed, partially linked with the kernel's own kstring.c. The only
# symbol it may still need from its environment is the port hook.
FS_FLAGS := -std=c11 -ffreestanding -nostdlib -fno-stack-protector -fno-pic -mno-red-zone \
            -fno-math-errno -O2 -Wall -Wextra -Werror -I$(KT) -I$(SLM_DIR)
FS_OBJS  := $(patsubst %.c,$(BUILD)/freestanding/%.o,$(SLM_SRCS) $(KT)/lib/kstring.c)
$(BUILD)/freestanding/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(FS_FLAGS) -MMD -MP -c $< -o $@
$(BUILD)/freestanding/slm.o: $(FS_OBJS)
	ld -r -o $@ $^
	@undef=$$(nm -u $@ | awk '{print $$2}' | sort | tr '\n' ' '); \
	if [ "$$undef" != "slm_port_now_ns " ]; then \
	    echo "freestanding engine needs symbols beyond slm_port_now_ns: $$undef"; exit 1; fi

deps:
	@./tools/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OPT) -MMD -MP -c $< -o $@

$(BUILD)/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) -MMD -MP -c $< -o $@

$(LIBSLM_OPT): $(call obj_opt,$(SLM_SRCS))
$(LIBSLM_SAN): $(call obj_san,$(SLM_SRCS))
$(LIBCOMMON_OPT): $(call obj_opt,$(COMMON_SRCS))
$(LIBCOMMON_SAN): $(call obj_san,$(COMMON_SRCS))
$(LIBQEMU_OPT): $(call obj_opt,$(QEMU_SRCS))
$(LIBQEMU_SAN): $(call obj_san,$(QEMU_SRCS))
$(LIBKERNEL_OPT): $(call obj_opt,$(KERNEL_SRCS))
$(LIBKERNEL_SAN): $(call obj_san,$(KERNEL_SRCS))
$(LIBAGENTS_OPT): $(call obj_opt,$(AGENT_SRCS))
$(LIBAGENTS_SAN): $(call obj_san,$(AGENT_SRCS))
$(LIBORCH_OPT): $(call obj_opt,$(ORCH_SRCS))
$(LIBORCH_SAN): $(call obj_san,$(ORCH_SRCS))
# Two rules, not one: a pattern rule with two targets is a grouped target (one run of
# the recipe would count as having made both the plain and the ASan library).
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/asan/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

# tools/<name>/*.c -> build/bin/<name>
define tool_rule
$(BUILD)/bin/$(1): $(call obj_opt,$(wildcard tools/$(1)/*.c)) $(LIBQEMU_OPT) $(LIBCOMMON_OPT) $(LIBSLM_OPT)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_OPT) -o $$@ -Wl,--start-group $$^ -Wl,--end-group $$(HOST_LIBS) -Wl,--as-needed $$(UV_LIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

$(AUTONCTL): $(call obj_opt,$(CLI_SRCS)) $(AUT_OPT)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OPT) -o $@ -Wl,--start-group $^ -Wl,--end-group $(HOST_LIBS) $(AUT_LIBS) $(UV_LIBS)

$(AUTOND): $(call obj_opt,src/orchestrator/autond.c) $(AUT_OPT)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OPT) -o $@ -Wl,--start-group $^ -Wl,--end-group $(HOST_LIBS) $(AUT_LIBS) $(UV_LIBS)

$(BUILD)/asan/tests/%: tests/unit/%.c $(call obj_san,$(UNIT_HELPER)) $(AUT_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) -iquote tests/unit -o $@ -Wl,--start-group $^ -Wl,--end-group -lcmocka $(HOST_LIBS) $(AUT_LIBS) $(UV_LIBS)

# libFuzzer target: clang, ASan + UBSan, the engine sources compiled in.
$(FUZZ_BIN): tests/fuzz/fuzz_gguf.c $(SLM_SRCS) src/common/slm_port_host.c
	@mkdir -p $(dir $@)
	$(CLANG) $(CSTD) $(INCLUDES) -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -o $@ $^

unit: $(UNIT_BINS)
	@set -e; pass=0; fail=0; \
	for t in $(UNIT_BINS); do \
	    if $$t; then pass=$$((pass+1)); else fail=$$((fail+1)); echo "FAILED: $$t"; fi; \
	done; \
	echo "unit: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

fuzz-smoke: $(FUZZ_BIN)
	@mkdir -p $(BUILD)/fuzz/corpus
	$(FUZZ_BIN) -max_total_time=20 -max_len=65536 -print_final_stats=0 \
	    $(BUILD)/fuzz/corpus tests/fuzz/seeds 2>&1 | tail -3

fuzz: $(FUZZ_BIN)
	@mkdir -p $(BUILD)/fuzz/corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 $(BUILD)/fuzz/corpus tests/fuzz/seeds

e2e: all
	$(PYTEST) -q tests/e2e

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-smoke
	$(MAKE) e2e

bench: deps
	$(MAKE) all
	./tests/bench/run_bench.sh

# The AUTON SLM trained from kernel-tree/kb (the recipe: tools/train/make-model.sh; needs
# python3-torch, about half an hour on 2 cores) and its evaluation with the engine on the
# host. Neither is part of `make test`.
.PHONY: model eval-model
model:
	$(MAKE) all
	./tools/train/make-model.sh

eval-model:
	$(MAKE) all
	./tools/train/make-model.sh --eval

demo: deps
	$(MAKE) all
	./tools/demo.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
