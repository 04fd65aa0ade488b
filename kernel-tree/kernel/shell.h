/*
 * shell.h - the console shell: a table of commands.
 *
 * Adding a command is one line in shell.c's table:
 *     {"name", "one-line help", cmd_name},
 * where cmd_name(argc, argv) returns 0 on success (argv[0] is the name;
 * "double quoted" words keep their spaces).
 */
#ifndef AUTON_KERNEL_SHELL_H
#define AUTON_KERNEL_SHELL_H

#define SHELL_PROMPT "Shell> "
#define SHELL_MAX_ARGS 16

struct shell_cmd {
    const char *name;
    const char *help;
    int (*fn)(int argc, char **argv);
};

/* Thread body: prompt, read, run, forever. */
void shell_main(void *unused);

/* Runs one command line; returns the command's status (-1: unknown). */
int shell_exec(char *line);

#endif
