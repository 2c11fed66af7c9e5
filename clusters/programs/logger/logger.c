/* crigate's log workload: writes known lines to stdout and stderr, one line
 * longer than the CRI runtimes' 16 KiB chunk, then sleeps until signalled.
 *
 *   logger [--long BYTES] [--exit CODE]
 *
 * Lines (the suites match them exactly):
 *   stdout: "crigate stdout line 1", "crigate stdout line 2"
 *   stderr: "crigate stderr line 1"
 *   stdout: "crigate long line " followed by 'x' up to BYTES characters
 *   stdout: "crigate done"
 * --exit CODE exits with CODE instead of sleeping (restart tests). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    long long_bytes = 40000;
    int exit_code = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--long") == 0) long_bytes = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--exit") == 0) exit_code = atoi(argv[i + 1]);
    }
    signal(SIGTERM, quit);
    signal(SIGINT, quit);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("crigate stdout line 1\n");
    printf("crigate stdout line 2\n");
    fprintf(stderr, "crigate stderr line 1\n");
    const char *prefix = "crigate long line ";
    fputs(prefix, stdout);
    for (long i = (long)strlen(prefix); i < long_bytes; i++) putchar('x');
    putchar('\n');
    printf("crigate done\n");
    fflush(stdout);
    if (exit_code >= 0) return exit_code;
    for (;;) pause();
}
