/*
 * shell.c - the command table and its interpreter.
 *
 * Commands print with kprintf (no timestamps) and return 0 on success.
 */
#include "kernel/shell.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/pci.h"
#include "kernel/power.h"
#include "kernel/printk.h"
#include "kernel/readline.h"
#include "kernel/selftest.h"
#include "kernel/time.h"
#include "lib/kstring.h"
#include "mm/heap.h"
#include "mm/pmm.h"
#include "mm/slm_region.h"

#define KIB 1024
#define MIB (1024 * 1024)

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);
static int cmd_uptime(int argc, char **argv);
static int cmd_mem(int argc, char **argv);
static int cmd_lspci(int argc, char **argv);
static int cmd_selftest(int argc, char **argv);
static int cmd_poweroff(int argc, char **argv);
static int cmd_crash(int argc, char **argv);
int cmd_slm(int argc, char **argv); /* shell_slm.c */

static const struct shell_cmd commands[] = {
    {"help", "list the commands", cmd_help},
    {"version", "kernel version and build", cmd_version},
    {"uptime", "time since boot and timer ticks", cmd_uptime},
    {"mem", "page allocator, heap and SLM pool usage", cmd_mem},
    {"lspci", "list PCI devices", cmd_lspci},
    {"slm", "query \"<text>\" | info | stats | backend [rule|neural|auto] | bench [n]", cmd_slm},
    {"selftest", "run the kernel selftests", cmd_selftest},
    {"poweroff", "power the machine off", cmd_poweroff},
    {"crash", "fault in the kernel on purpose (tests the panic path)", cmd_crash},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int cmd_help(int argc, char **argv)
{
    (void)argc, (void)argv;
    for (size_t i = 0; i < NCOMMANDS; i++)
        kprintf("  %-9s %s\n", commands[i].name, commands[i].help);
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc, (void)argv;
    kprintf("AUTON kernel %s (%s), built with gcc %s\n", KERNEL_VERSION, KERNEL_ARCH, __VERSION__);
    return 0;
}

static int cmd_uptime(int argc, char **argv)
{
    (void)argc, (void)argv;
    uint64_t ms = time_ms();
    kprintf("up %lu.%03lu s, %lu timer ticks at %u Hz\n", ms / 1000, ms % 1000, timer_ticks(),
            TIMER_HZ);
    return 0;
}

static int cmd_mem(int argc, char **argv)
{
    (void)argc, (void)argv;
    struct pmm_stats p;
    struct heap_stats h;
    struct slm_region_info r;
    pmm_get_stats(&p);
    heap_get_stats(&h);
    slm_region_get(&r);
    kprintf("Pages:    %lu KiB total, %lu KiB used, %lu KiB free\n", p.total / KIB,
            (p.total - p.free) / KIB, p.free / KIB);
    kprintf("Heap:     %zu KiB size, %zu KiB used, %zu KiB peak\n", h.size / KIB, h.used / KIB,
            h.peak / KIB);
    kprintf("SLM pool: %lu MiB at 0x%08lx, %zu KiB used, %zu KiB peak\n", r.size / MIB, r.base,
            r.used / KIB, r.peak / KIB);
    return 0;
}

static int cmd_lspci(int argc, char **argv)
{
    (void)argc, (void)argv;
    char line[128];
    for (unsigned i = 0; i < pci_count(); i++) {
        pci_describe(pci_get(i), line, sizeof line);
        kprintf("%s\n", line);
    }
    return 0;
}

static int cmd_selftest(int argc, char **argv)
{
    (void)argc, (void)argv;
    return selftest_run_all() == 0 ? 0 : 1;
}

static int cmd_poweroff(int argc, char **argv)
{
    (void)argc, (void)argv;
    kprintf("Powering off\n");
    power_off(POWER_EXIT_OK);
}

static int cmd_crash(int argc, char **argv)
{
    (void)argc, (void)argv;
    volatile uintptr_t null_page = 8; /* the first 2 MiB are never mapped */
    return *(volatile int *)null_page;
}

/* Splits line in place into words; "..." groups words. Returns argc. */
static int split(char *line, char **argv)
{
    int argc = 0;
    char *p = line;
    while (*p && argc < SHELL_MAX_ARGS) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        bool quoted = *p == '"';
        argv[argc++] = quoted ? ++p : p;
        while (*p && (quoted ? *p != '"' : (*p != ' ' && *p != '\t')))
            p++;
        if (*p)
            *p++ = '\0';
    }
    argv[argc] = NULL;
    return argc;
}

int shell_exec(char *line)
{
    char *argv[SHELL_MAX_ARGS + 1];
    int argc = split(line, argv);
    if (argc == 0)
        return 0;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, argv[0]) == 0)
            return commands[i].fn(argc, argv);
    kprintf("unknown command: %s (try help)\n", argv[0]);
    return -1;
}

void shell_main(void *unused)
{
    (void)unused;
    char line[READLINE_MAX];
    for (;;) {
        readline(SHELL_PROMPT, line, sizeof line);
        shell_exec(line);
    }
}
