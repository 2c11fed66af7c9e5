/* crigate's log workload: writes known lines to stdout and stderr, one line
 * longer than the CRI runtimes' 16 KiB chunk, then sleeps until signalled.
 *
 *   logger [--long BYTES] [--exit CODE] [--steps | --interleave]
 *   logger --next          (run in the logger's container: start its next step)
 *
 * Lines (the suites match them exactly):
 *   stdout: "crigate stdout line 1", "crigate stdout line 2"
 *   stderr: "crigate stderr line 1"
 *   stdout: "crigate long line " followed by 'x' up to BYTES characters
 *   stdout: "crigate done"
 * --exit CODE exits with CODE instead of sleeping (restart tests).
 *
 * The runtime copies stdout and stderr through two pipes, each on its own,
 * so the order of the two streams in the log file is not the order in which
 * they were written. --steps makes the file the same every run: the logger
 * writes one step (the stdout lines; the stderr line; the long line and
 * "crigate done"), then waits for SIGUSR1 (`logger --next`) before the next;
 * the test sends it once the previous step is in the log file.
 *
 * --interleave stages the cross-stream case on purpose, in the same steps:
 *   stdout: "crigate split " and 'y' up to BYTES characters, no newline
 *   stderr: "crigate between"
 *   stdout: " end" and the newline, then "crigate done" */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t steps_allowed = 0;

static void quit(int sig) { (void)sig; _exit(0); }
static void next_step(int sig) { (void)sig; steps_allowed++; }

/* write(2) all of buf: one stream's bytes leave in one piece, in order */
static void put(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) _exit(2);
        buf += n;
        len -= (size_t)n;
    }
}

static void puts_fd(int fd, const char *s) { put(fd, s, strlen(s)); }

/* "prefix" padded with fill up to total bytes (no newline) */
static void padded(int fd, const char *prefix, char fill, long total) {
    long plen = (long)strlen(prefix);
    long len = total > plen ? total : plen;
    char *buf = malloc((size_t)len);
    if (!buf) _exit(2);
    memcpy(buf, prefix, (size_t)plen);
    memset(buf + plen, fill, (size_t)(len - plen));
    put(fd, buf, (size_t)len);
    free(buf);
}

/* In step mode, block until the test has allowed step number `step`. */
static void wait_for_step(int stepped, int step) {
    if (!stepped) return;
    sigset_t none;
    sigemptyset(&none);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    while (steps_allowed < step) sigsuspend(&none);
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
}

int main(int argc, char **argv) {
    long long_bytes = 40000;
    int exit_code = -1, stepped = 0, interleave = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--next") == 0) return kill(1, SIGUSR1) == 0 ? 0 : 1;
        else if (strcmp(argv[i], "--steps") == 0) stepped = 1;
        else if (strcmp(argv[i], "--interleave") == 0) stepped = interleave = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--long") == 0) long_bytes = atol(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--exit") == 0) exit_code = atoi(argv[++i]);
    }
    signal(SIGTERM, quit);
    signal(SIGINT, quit);
    signal(SIGUSR1, next_step);
    if (interleave) {
        padded(1, "crigate split ", 'y', long_bytes);
        wait_for_step(stepped, 1);
        puts_fd(2, "crigate between\n");
        wait_for_step(stepped, 2);
        puts_fd(1, " end\ncrigate done\n");
    } else {
        puts_fd(1, "crigate stdout line 1\n");
        puts_fd(1, "crigate stdout line 2\n");
        wait_for_step(stepped, 1);
        puts_fd(2, "crigate stderr line 1\n");
        wait_for_step(stepped, 2);
        padded(1, "crigate long line ", 'x', long_bytes);
        puts_fd(1, "\ncrigate done\n");
    }
    if (exit_code >= 0) return exit_code;
    for (;;) pause();
}
