/* zerg linux: what the Linux personality serves. */
#include <stdio.h>
#include <string.h>

#include "monitor/zg_persona.h"
#include "tools/zg_tool.h"

static void linux_usage(FILE *f)
{
    fprintf(f, "usage: zerg linux calls\n\n"
               "Prints the Linux personality's system-call table as Markdown: every call\n"
               "zerg serves to an unmodified Linux program, its support level and a note\n"
               "(docs/linux-calls.md is this output). Linux programs themselves run with\n"
               "zerg boot PROG [-- ARGS]; see docs/abi.md, \"Linux programs\".\n");
}

int zg_cmd_linux(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        linux_usage(stdout);
        return 0;
    }
    if (argc != 2 || strcmp(argv[1], "calls") != 0) {
        linux_usage(stderr);
        return ZG_EXIT_USAGE;
    }
    const struct zg_persona_ops *p = zg_persona_lookup("linux");
    if (!p || !p->describe) {
        zg_err("linux: the Linux personality is not built into this zerg");
        return ZG_EXIT_USAGE;
    }
    fflush(stdout);
    p->describe(1);
    return 0;
}
