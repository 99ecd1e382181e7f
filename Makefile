# zerg: the build.
#   make            bin/zerg, bin/guests/*.elf, bin/test-guests/*.elf
#   make deps       install missing Debian packages
#   make test       everything, plus the ASan+UBSan unit tests, the Xen rig and bounded fuzzing
#   make test-xen   the Xen rig alone (Xen + a PV dom0 in QEMU, TCG; tests/xen/)
#   make demo       build, then the cold-boot demo
#   make fuzz       the fuzzers, for longer
#   make bench      the benchmarks
#   make format     clang-format every C file; make format-check checks only
#   make docs       regenerate docs/linux-calls.md from the system-call table
# Backends are picked here, not with #ifdef: HV_BACKENDS lists hypervisor/hv_<name>.c.

CC        ?= gcc
CLANG     ?= clang
OPT       ?= -O2
HV_BACKENDS ?= kvm xen

BUILD := build
BIN   := bin

CSTD   := -std=c11 -D_GNU_SOURCE
WARN   := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
INC    := -I. -Iguest/include
CFLAGS := $(CSTD) $(WARN) $(OPT) -g $(INC) -MMD -MP
LDLIBS := -llz4 -lxxhash -lseccomp -lcurl -lpthread -lrt -lm
# What each backend links (a backend not in HV_BACKENDS links nothing).
HV_LIBS_xen := -lxenctrl -lxenforeignmemory -lxenevtchn -lxentoollog
LDLIBS += $(foreach b,$(HV_BACKENDS),$(HV_LIBS_$(b)))
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

LIB_SRCS  := $(sort $(wildcard monitor/*.c pagecache/*.c template/*.c snapshotter/*.c restorer/*.c \
                             remote/*.c)) \
             hypervisor/hv.c $(HV_BACKENDS:%=hypervisor/hv_%.c) \
             $(sort $(wildcard linux/*.c)) linux/rt_image.S
# serve/ is zerg serve's engine (serve/zg_serve.h), linked into the zerg command.
TOOL_SRCS := $(sort $(wildcard tools/*.c serve/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJS      := $(patsubst %.S,$(BUILD)/obj/%.o,$(LIB_SRCS:%.c=$(BUILD)/obj/%.o))
TOOL_OBJS     := $(TOOL_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_ASAN_OBJS := $(patsubst %.S,$(BUILD)/asan/%.o,$(LIB_SRCS:%.c=$(BUILD)/asan/%.o))
TOOL_ASAN_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/asan/%.o)
UNIT_BINS     := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/test/%)
UNIT_ASAN_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/test-asan/%)
FUZZ_BINS     := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SEEDS    := $(BUILD)/fuzz-seeds/.made

# ---- guests: freestanding static ELFs run at CPL3 ------------------------
GUEST_CFLAGS := -std=c11 -ffreestanding -fno-pie -fno-pic -fno-stack-protector \
                -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
                -mno-red-zone -O2 -g $(WARN) -Iguest/include -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,guest/rt/guest.ld -Wl,--build-id=none \
                 -Wl,-z,noexecstack -Wl,-z,max-page-size=4096
RT_SRCS := guest/rt/start.S guest/rt/hypercall.c guest/rt/xen.c guest/rt/string.c guest/rt/printf.c \
           guest/rt/malloc.c
RT_OBJS := $(patsubst %,$(BUILD)/guest/%.o,$(basename $(RT_SRCS)))
NOTE_OBJ := $(BUILD)/guest/guest/rt/note.o

# Linux test programs (tests/linux/*.c), each built four ways: static glibc,
# static-PIE glibc, static musl and dynamically linked (glibc, PIE, loaded by
# the host's ld-linux-x86-64.so.2); tests/sys/linux.sh runs them natively and
# under zerg and compares.
LINUX_PROGS := $(basename $(notdir $(wildcard tests/linux/*.c)))
LINUX_ELFS  := $(foreach p,$(LINUX_PROGS),$(foreach v,glibc pie musl dyn,$(BIN)/linux-tests/$(p).$(v)))

APPS        := $(notdir $(wildcard guest/apps/*))
TEST_GUESTS := $(notdir $(wildcard tests/guests/*))
APP_ELFS    := $(APPS:%=$(BIN)/guests/%.elf)
TGUEST_ELFS := $(TEST_GUESTS:%=$(BIN)/test-guests/%.elf)
# Test guests that bring their own ABI note instead of the runtime's.
GUESTS_OWN_NOTE := badabi abiv2

.PHONY: all deps docs test test-unit test-sys test-xen demo fuzz bench format format-check clean \
        install deb
all: $(BIN)/zerg $(APP_ELFS) $(TGUEST_ELFS) $(FUZZ_SEEDS) $(LINUX_ELFS) $(BIN)/linux-apps/zlua

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -c $< -o $@

# The Linux personality's guest-side runtime (linux/rt/: the system-call
# entry and the calls served inside the guest): freestanding code linked at
# ZG_LINUX_RT_GPA into a flat image, which linux/rt_image.S puts into the
# library as data; the monitor copies it into every Linux guest. rt.c's
# table of the calls it serves is checked against linux/lx_calls.h when it is
# compiled (_Static_assert): it does not build if the two differ.
LXRT_CFLAGS := -std=c11 -ffreestanding -fno-pie -fno-pic -fno-stack-protector \
               -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
               -mno-red-zone -mgeneral-regs-only -O2 $(WARN) $(INC) -MMD -MP
# lx_view.c (the view's names) is the monitor's too: one implementation.
LXRT_SRCS := linux/rt/entry.S $(sort $(wildcard linux/rt/*.c)) linux/lx_view.c
LXRT_OBJS := $(patsubst %,$(BUILD)/lxrt/%.o,$(basename $(LXRT_SRCS)))
$(BUILD)/lxrt/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LXRT_CFLAGS) -c $< -o $@
$(BUILD)/lxrt/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) -Iguest/include -MMD -MP -c $< -o $@
$(BUILD)/lxrt/rt.elf: $(LXRT_OBJS) linux/rt/rt.ld
	$(CC) -nostdlib -static -no-pie -Wl,-T,linux/rt/rt.ld -Wl,--build-id=none \
	    -Wl,-z,noexecstack -o $@ $(LXRT_OBJS)
$(BUILD)/lxrt/rt.bin: $(BUILD)/lxrt/rt.elf
	objcopy -O binary $< $@
$(BUILD)/obj/linux/rt_image.o $(BUILD)/asan/linux/rt_image.o: $(BUILD)/lxrt/rt.bin
# (Two rules: one pattern rule with two targets would make both at once.)
$(BUILD)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(INC) -MMD -MP -c $< -o $@
$(BUILD)/asan/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(INC) -MMD -MP -c $< -o $@

# System-call names from the host's <asm/unistd_64.h>, for the Linux
# personality's table and its messages (one source of names and numbers).
UNISTD_H := /usr/include/x86_64-linux-gnu/asm/unistd_64.h
$(BUILD)/gen/lx_names.h: $(UNISTD_H)
	@mkdir -p $(dir $@)
	awk '$$1 == "#define" && $$2 ~ /^__NR_/ { n = $$2; sub(/^__NR_/, "", n); printf "[%d] = \"%s\",\n", $$3, n }' $< >$@.tmp
	mv $@.tmp $@
$(BUILD)/obj/monitor/sandbox.o $(BUILD)/asan/monitor/sandbox.o: $(BUILD)/gen/lx_names.h

# Xen's public headers use anonymous unions: its backend is built as gnu11.
$(BUILD)/obj/hypervisor/hv_xen.o $(BUILD)/asan/hypervisor/hv_xen.o $(BUILD)/test/test_xen $(BUILD)/test-asan/test_xen \
$(BUILD)/test/test_xen_pv_abi $(BUILD)/test-asan/test_xen_pv_abi: CFLAGS := $(subst -std=c11,-std=gnu11,$(CFLAGS))

$(BUILD)/libzerg.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libzerg-asan.a: $(LIB_ASAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The whole archive is linked: backends are found through weak symbols
# (hypervisor/hv.c), which would not pull their objects out of an archive.
WHOLE = -Wl,--whole-archive $(1) -Wl,--no-whole-archive

$(BIN)/zerg: $(TOOL_OBJS) $(BUILD)/libzerg.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(TOOL_OBJS) $(call WHOLE,$(BUILD)/libzerg.a) $(LDLIBS)

$(BIN)/zerg-asan: $(TOOL_ASAN_OBJS) $(BUILD)/libzerg-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(TOOL_ASAN_OBJS) $(call WHOLE,$(BUILD)/libzerg-asan.a) $(LDLIBS)

$(BUILD)/test/%: tests/unit/%.c $(BUILD)/libzerg.a tests/zt.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(call WHOLE,$(BUILD)/libzerg.a) $(LDLIBS)

$(BUILD)/test-asan/%: tests/unit/%.c $(BUILD)/libzerg-asan.a tests/zt.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $< $(call WHOLE,$(BUILD)/libzerg-asan.a) $(LDLIBS)

# The rig's driver of xl create/save/restore (runs in dom0; needs no library).
$(BUILD)/test/xlbench: tests/xen/xlbench.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

# The fuzzers' seeds, made from this build (tests/fuzz/mkseeds.sh): the guest
# ELFs that fit the ELF fuzzer's memory, manifests from the real serializer,
# the files of a real page cache. tests/run.sh checks every seed is accepted.
FUZZ_SEED_ELFS := $(BIN)/guests/zergling.elf \
                  $(addprefix $(BIN)/test-guests/,hello.elf hypercalls.elf servetest.elf loop.elf fault.elf wildptr.elf)
$(BUILD)/test/mkseed_%: tests/fuzz/mkseed_%.c $(BUILD)/libzerg.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(call WHOLE,$(BUILD)/libzerg.a) $(LDLIBS)

$(FUZZ_SEEDS): tests/fuzz/mkseeds.sh $(BIN)/zerg $(BUILD)/test/mkseed_manifest \
               $(BUILD)/test/mkseed_lxstate $(FUZZ_SEED_ELFS)
	tests/fuzz/mkseeds.sh $(BUILD)/fuzz-seeds $(BIN)/zerg $(BUILD)/test/mkseed_manifest $(FUZZ_SEED_ELFS)
	@touch $@

# The fuzzers need no hypervisor backend (hv.c's weak table resolves to none);
# the Linux personality's parsers are fuzzed too (fuzz_lx_state).
FUZZ_LIB_SRCS := $(filter-out hypervisor/hv_%.c,$(LIB_SRCS))
# One clang command per fuzzer, so its headers are listed here, not in .d files.
FUZZ_HDRS := $(wildcard monitor/*.h pagecache/*.h template/*.h snapshotter/*.h restorer/*.h hypervisor/*.h \
                        linux/*.h guest/include/zerg/*.h tests/fuzz/*.h)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS) $(FUZZ_HDRS) $(BUILD)/gen/lx_names.h \
                 $(BUILD)/lxrt/rt.bin
	@mkdir -p $(dir $@)
	$(CLANG) $(CSTD) $(INC) -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -o $@ $< $(FUZZ_LIB_SRCS) -llz4 -lxxhash -lseccomp -lcurl -lpthread -lrt -lm \
	    -Wl,-z,noexecstack

$(BUILD)/guest/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/guest/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

# One ELF per directory: guest/apps/NAME/*.c or tests/guests/NAME/*.c.
# (No literal % in these prerequisites: make would put the stem there.)
.SECONDARY:
.SECONDEXPANSION:
$(BIN)/guests/%.elf: $$(addprefix $(BUILD)/guest/,$$(subst .c,.o,$$(wildcard guest/apps/$$*/*.c))) \
                     $(RT_OBJS) $(NOTE_OBJ) guest/rt/guest.ld
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^) -lgcc

$(BIN)/test-guests/%.elf: $$(addprefix $(BUILD)/guest/,$$(subst .c,.o,$$(wildcard tests/guests/$$*/*.c))) \
                          $(RT_OBJS) $(NOTE_OBJ) guest/rt/guest.ld
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_LDFLAGS) -o $@ $(filter-out $(if $(filter $*,$(GUESTS_OWN_NOTE)),$(NOTE_OBJ)),$(filter %.o,$^)) -lgcc

# (guest/include: forge.c, a zerg-only test, names zerg's shared page.)
$(BIN)/linux-tests/%.glibc: tests/linux/%.c guest/include/zerg/linux_abi.h
	@mkdir -p $(dir $@)
	$(CC) -static -O2 -Wall -Iguest/include -o $@ $<
$(BIN)/linux-tests/%.pie: tests/linux/%.c guest/include/zerg/linux_abi.h
	@mkdir -p $(dir $@)
	$(CC) -static-pie -O2 -Wall -Iguest/include -o $@ $<
$(BIN)/linux-tests/%.musl: tests/linux/%.c guest/include/zerg/linux_abi.h
	@mkdir -p $(dir $@)
	musl-gcc -static -O2 -Wall -Iguest/include -o $@ $<
# Dynamically linked (Debian's default: a PIE that names ld-linux-x86-64.so.2).
$(BIN)/linux-tests/%.dyn: tests/linux/%.c guest/include/zerg/linux_abi.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Iguest/include -o $@ $<

# A static Lua 5.4 interpreter from Debian's liblua5.4.a (examples/lua/).
LUA_A := /usr/lib/x86_64-linux-gnu/liblua5.4.a
$(BIN)/linux-apps/zlua: examples/lua/zlua.c
	@mkdir -p $(dir $@)
	$(CC) -static -O2 -Wall -I/usr/include/lua5.4 -o $@ $< $(LUA_A) -lm 2>&1 | \
	    { grep -v "dlopen\|loadlib.o" || true; }
	@test -x $@

# ---- tests ----------------------------------------------------------------
FUZZ_SECONDS ?= 10

test: deps
	@$(MAKE) --no-print-directory all $(BIN)/zerg-asan $(UNIT_BINS) $(UNIT_ASAN_BINS) $(FUZZ_BINS) \
	    $(BUILD)/test/xlbench
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh

# The Xen rig alone: Xen + a PV dom0 in QEMU (TCG), the Xen tests inside.
test-xen: deps
	@$(MAKE) --no-print-directory all $(BIN)/zerg-asan $(BUILD)/test/test_xen $(BUILD)/test-asan/test_xen \
	    $(BUILD)/test/xlbench
	@tests/run.sh --only xen

fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-300} tests/run.sh --only fuzz

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench.sh

# ---- make install (PREFIX, DESTDIR) -----------------------------------------
# The zerg command, its guests (lib/zerg/guests: where `zerg` installed in
# bin/ looks for a template's guest), and the guest SDK: the ABI headers, the
# runtime as a static library, the linker script and a pkg-config file, so an
# out-of-tree guest builds with
#     cc $(pkg-config --cflags --libs zerg-guest) app.c -o app.elf
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib
INCDIR = $(PREFIX)/include
DOCDIR = $(PREFIX)/share/doc/zerg
MANDIR = $(PREFIX)/share/man/man1
COMPDIR = $(PREFIX)/share/bash-completion/completions
UNITDIR = $(PREFIX)/lib/systemd/system
$(BUILD)/libzerg-guest.a: $(RT_OBJS) $(NOTE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Written at install time: it names PREFIX.
define ZERG_GUEST_PC
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	    'Name: zerg-guest' 'Description: the zerg guest runtime (ABI version 3): build a guest ELF for zerg' \
	    'Version: 3' \
	    'Cflags: -I$${includedir} -std=c11 -ffreestanding -fno-pie -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns -mno-red-zone' \
	    'Libs: -nostdlib -static -no-pie -Wl,-T,$${libdir}/zerg/guest.ld -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,max-page-size=4096 -Wl,--whole-archive $${libdir}/zerg/libzerg-guest.a -Wl,--no-whole-archive -lgcc'
endef

install: all $(BUILD)/libzerg-guest.a
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/zerg/guests $(DESTDIR)$(INCDIR)/zerg \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(DOCDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(COMPDIR) \
	    $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BIN)/zerg $(DESTDIR)$(BINDIR)/zerg
	install -m 0644 $(APP_ELFS) $(DESTDIR)$(LIBDIR)/zerg/guests/
	install -m 0644 guest/include/zerg/abi.h guest/include/zerg/zerg.h \
	    guest/include/zerg/linux_abi.h $(DESTDIR)$(INCDIR)/zerg/
	install -m 0644 $(BUILD)/libzerg-guest.a guest/rt/guest.ld $(DESTDIR)$(LIBDIR)/zerg/
	$(ZERG_GUEST_PC) >$(DESTDIR)$(LIBDIR)/pkgconfig/zerg-guest.pc
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	scripts/mkman.sh $(BIN)/zerg >$(DESTDIR)$(MANDIR)/zerg.1
	install -m 0644 dist/zerg.bash-completion $(DESTDIR)$(COMPDIR)/zerg
	for u in dist/zerg-serve@.service dist/zerg-serve@.socket; do \
	    sed 's|/usr/bin/zerg|$(BINDIR)/zerg|' $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u); done

# A Debian package of make install with PREFIX=/usr (dpkg-deb; its
# dependencies are the packages of the libraries bin/zerg links):
# build/zerg_VERSION_amd64.deb.
deb: all $(BUILD)/libzerg-guest.a
	scripts/mkdeb.sh

# Generated documentation (tests/sys/linux.sh checks it is current).
docs: $(BIN)/zerg
	$(BIN)/zerg linux calls >docs/linux-calls.md

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD) $(BIN)

-include $(shell find $(BUILD) -path $(BUILD)/xen-rig -prune -o -name '*.d' -type f -print 2>/dev/null)
