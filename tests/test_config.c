/*  test_config: the settings of pdc_config.h and their ranges.

    Unit tests of pdc_config without any cluster: every default lies in
    its range and every variable is PDC_ and the name in capitals; a value
    out of range or not an integer, from the environment or from --set, is
    refused with a message that names the setting, its variable, the value
    and the range; both ends of every range are accepted and one past
    either end is not; suffixes parse and overflow is refused; the printed
    table shows each range.  Then the programs: pdc_init(NULL) with
    PDC_MAX_TASKS_IN_FLIGHT=0 returns NULL and says why, and pdc-head and
    pdc start refuse a bad setting before they start anything (they run
    from PDC_BIN_DIR, set by meson test).

    Criterion runs each test in its own process, so a test's setenv does
    not reach the next; the fixture clears every PDC_* setting first, so
    the caller's environment does not leak in either.
*/
#include "pdc_config.h"

#include <pdc.h>

#include <criterion/criterion.h>
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_err[512];

static void s_clear_env(void) {
    for (size_t i = 0; pdc_config_setting(i); i++)
        unsetenv(pdc_config_setting(i)->env);
    g_err[0] = '\0';
}

TestSuite(config, .init = s_clear_env);

static int64_t s_value(const pdc_config_t *cfg, const pdc_setting_t *s) {
    return *(const int64_t *) ((const char *) cfg + s->offset);
}

/* ---- The table ---------------------------------------------------------- */

Test(config, every_default_lies_in_its_range) {
    size_t n = 0;
    for (const pdc_setting_t *s; (s = pdc_config_setting(n)); n++) {
        cr_assert_leq(s->min, s->max, "%s: range %lld..%lld is empty", s->name, (long long) s->min,
                      (long long) s->max);
        cr_assert(s->min <= s->def && s->def <= s->max, "%s: default %lld outside %lld..%lld",
                  s->name, (long long) s->def, (long long) s->min, (long long) s->max);
    }
    cr_assert_eq(n * sizeof(int64_t), sizeof(pdc_config_t), "one table row per field");
    cr_assert_null(pdc_config_setting(n));
    cr_assert_null(pdc_config_setting(SIZE_MAX));
}

Test(config, the_environment_unset_gives_the_defaults) {
    pdc_config_t cfg;
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
    for (size_t i = 0; pdc_config_setting(i); i++) {
        const pdc_setting_t *s = pdc_config_setting(i);
        cr_assert_eq(s_value(&cfg, s), s->def, "%s", s->name);
    }
    cr_assert_eq(cfg.max_tasks_in_flight, 64);
}

Test(config, every_variable_is_pdc_and_the_name_in_capitals) {
    for (size_t i = 0; pdc_config_setting(i); i++) {
        const pdc_setting_t *s = pdc_config_setting(i);
        char want[64] = "PDC_";
        for (size_t k = 0; s->name[k] && k + 5 < sizeof want; k++)
            want[4 + k] = (char) toupper((unsigned char) s->name[k]), want[5 + k] = '\0';
        cr_assert_str_eq(s->env, want);
        cr_assert(s->help && *s->help, "%s has no help", s->name);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(pdc_config_setting(j)->name, s->name);
    }
}

/* ---- Out of range --------------------------------------------------------- */

Test(config, env_out_of_range_is_refused_naming_it) {
    pdc_config_t cfg;
    setenv("PDC_MAX_TASKS_IN_FLIGHT", "0", 1);
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), -1);
    cr_assert_str_eq(g_err, "PDC_MAX_TASKS_IN_FLIGHT=0 is out of range: "
                            "max_tasks_in_flight must be 1..100000");
    setenv("PDC_MAX_TASKS_IN_FLIGHT", "100001", 1);
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), -1);
    cr_assert(strstr(g_err, "PDC_MAX_TASKS_IN_FLIGHT=100001 is out of range"), "%s", g_err);
    setenv("PDC_MAX_TASKS_IN_FLIGHT", "100000", 1);
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
    cr_assert_eq(cfg.max_tasks_in_flight, 100000);

    /* Sizes print their range with suffixes, as they may be written. */
    setenv("PDC_INLINE_MAX", "65M", 1);
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), -1);
    cr_assert_str_eq(g_err, "PDC_INLINE_MAX=65M is out of range: inline_max must be 0..64M");
    setenv("PDC_INLINE_MAX", "-1", 1);
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), -1);
    cr_assert(strstr(g_err, "PDC_INLINE_MAX=-1 is out of range"), "%s", g_err);
}

Test(config, set_out_of_range_is_refused_and_changes_nothing) {
    pdc_config_t cfg;
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
    pdc_config_t before = cfg;
    cr_assert_eq(pdc_config_set(&cfg, "max_tasks_in_flight=0", g_err, sizeof g_err), -1);
    cr_assert_str_eq(g_err, "max_tasks_in_flight=0 is out of range: max_tasks_in_flight "
                            "(PDC_MAX_TASKS_IN_FLIGHT) must be 1..100000");
    cr_assert_eq(pdc_config_set(&cfg, "heartbeat_ms=0", g_err, sizeof g_err), -1);
    cr_assert(strstr(g_err, "heartbeat_ms (PDC_HEARTBEAT_MS) must be 10..60000"), "%s", g_err);
    cr_assert_eq(pdc_config_set(&cfg, "spillback_threshold_pct=101", g_err, sizeof g_err), -1);
    cr_assert(strstr(g_err, "must be 0..100"), "%s", g_err);
    cr_assert_eq(memcmp(&cfg, &before, sizeof cfg), 0, "a refused --set changed the config");

    cr_assert_eq(pdc_config_set(&cfg, "max_tasks_in_flight=1", g_err, sizeof g_err), 0, "%s",
                 g_err);
    cr_assert_eq(cfg.max_tasks_in_flight, 1);
}

/* Both ends of every range are taken, from either way in; one past
   either end is refused by both, with the range in the message. */
Test(config, every_range_is_enforced_at_both_ends) {
    for (size_t i = 0; pdc_config_setting(i); i++) {
        const pdc_setting_t *s = pdc_config_setting(i);
        int64_t ok[] = {s->min, s->max};
        for (int k = 0; k < 2; k++) {
            pdc_config_t cfg;
            char text[32], assignment[96];
            snprintf(text, sizeof text, "%lld", (long long) ok[k]);
            setenv(s->env, text, 1);
            cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
            cr_assert_eq(s_value(&cfg, s), ok[k], "%s", s->name);
            unsetenv(s->env);
            snprintf(assignment, sizeof assignment, "%s=%s", s->name, text);
            cr_assert_eq(pdc_config_set(&cfg, assignment, g_err, sizeof g_err), 0, "%s", g_err);
        }
        int64_t bad[] = {s->min - 1, s->max + 1};
        for (int k = 0; k < 2; k++) {
            pdc_config_t cfg;
            char text[32], assignment[96];
            snprintf(text, sizeof text, "%lld", (long long) bad[k]);
            setenv(s->env, text, 1);
            cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), -1, "%s=%s taken", s->env,
                         text);
            cr_assert(strstr(g_err, s->env) && strstr(g_err, s->name) && strstr(g_err, text) &&
                          strstr(g_err, ".."),
                      "%s", g_err);
            unsetenv(s->env);
            cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
            snprintf(assignment, sizeof assignment, "%s=%s", s->name, text);
            cr_assert_eq(pdc_config_set(&cfg, assignment, g_err, sizeof g_err), -1, "%s taken",
                         assignment);
            cr_assert(strstr(g_err, s->env) && strstr(g_err, assignment) &&
                          strstr(g_err, "is out of range"),
                      "%s", g_err);
        }
    }
}

/* ---- Not integers --------------------------------------------------------- */

Test(config, non_numeric_values_are_refused) {
    static const char *bad[] = {"abc", "12x", "1.5", "0x10", "--3", " ", "64KB", "K", "1 000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pdc_config_t cfg;
        char want[96];
        setenv("PDC_TRANSFER_WINDOW", bad[i], 1);
        cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), -1, "'%s' taken", bad[i]);
        snprintf(want, sizeof want, "PDC_TRANSFER_WINDOW=%s is not an integer", bad[i]);
        cr_assert(strstr(g_err, want) && strstr(g_err, "transfer_window") &&
                      strstr(g_err, "1..1024"),
                  "%s", g_err);
        unsetenv("PDC_TRANSFER_WINDOW");

        cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
        char assignment[64];
        snprintf(assignment, sizeof assignment, "transfer_window=%s", bad[i]);
        cr_assert_eq(pdc_config_set(&cfg, assignment, g_err, sizeof g_err), -1, "%s taken",
                     assignment);
        snprintf(want, sizeof want, "%s is not an integer", assignment);
        cr_assert(strstr(g_err, want) && strstr(g_err, "PDC_TRANSFER_WINDOW"), "%s", g_err);
        cr_assert_eq(cfg.transfer_window, 4);
    }
    /* An empty variable counts as unset; an empty --set value does not. */
    pdc_config_t cfg;
    setenv("PDC_TRANSFER_WINDOW", "", 1);
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
    cr_assert_eq(cfg.transfer_window, 4);
    cr_assert_eq(pdc_config_set(&cfg, "transfer_window=", g_err, sizeof g_err), -1);
    cr_assert(strstr(g_err, "is not an integer"), "%s", g_err);
}

Test(config, suffixes_and_overflow) {
    pdc_config_t cfg;
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
    cr_assert_eq(pdc_config_set(&cfg, "inline_max=64k", g_err, sizeof g_err), 0, "%s", g_err);
    cr_assert_eq(cfg.inline_max, 64 * 1024);
    cr_assert_eq(pdc_config_set(&cfg, "max_message_size=2G", g_err, sizeof g_err), 0, "%s", g_err);
    cr_assert_eq(cfg.max_message_size, 2LL << 30);
    cr_assert_eq(pdc_config_set(&cfg, "object_store_memory=1T", g_err, sizeof g_err), 0, "%s",
                 g_err);
    cr_assert_eq(cfg.object_store_memory, 1LL << 40);
    setenv("PDC_TRANSFER_CHUNK_SIZE", "8M", 1);
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
    cr_assert_eq(cfg.transfer_chunk_size, 8LL << 20);

    /* Past 64 bits, with or without a suffix: out of range, not wrapped. */
    static const char *huge[] = {"max_code_bytes=99999999999999999999",
                                 "max_code_bytes=9999999999999999G",
                                 "max_code_bytes=-9999999999999999T"};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        cr_assert_eq(pdc_config_set(&cfg, huge[i], g_err, sizeof g_err), -1, "%s taken", huge[i]);
        cr_assert(strstr(g_err, "is out of range") && strstr(g_err, "0..64G"), "%s", g_err);
    }
}

Test(config, unknown_settings_and_bad_assignments) {
    pdc_config_t cfg;
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
    cr_assert_eq(pdc_config_set(&cfg, "max_tasks=3", g_err, sizeof g_err), -1);
    cr_assert(strstr(g_err, "unknown setting 'max_tasks'"), "%s", g_err);
    cr_assert_eq(pdc_config_set(&cfg, "max_tasks_in_flight", g_err, sizeof g_err), -1);
    cr_assert(strstr(g_err, "is not NAME=VALUE"), "%s", g_err);
    /* A prefix of a name is not the name. */
    cr_assert_eq(pdc_config_set(&cfg, "heartbeat=100", g_err, sizeof g_err), -1);
    cr_assert(strstr(g_err, "unknown setting"), "%s", g_err);
}

/* ---- Printing ------------------------------------------------------------- */

Test(config, the_printed_table_shows_each_range) {
    pdc_config_t cfg;
    cr_assert_eq(pdc_config_read_env(&cfg, g_err, sizeof g_err), 0, "%s", g_err);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert(out);
    pdc_config_print(&cfg, out);
    fclose(out);
    cr_assert(strstr(text, "range"), "%s", text);
    for (size_t i = 0; pdc_config_setting(i); i++) {
        const pdc_setting_t *s = pdc_config_setting(i);
        const char *line = strstr(text, s->env);
        cr_assert(line, "%s is not printed", s->env);
        while (line > text && line[-1] != '\n')
            line--;
        cr_assert_eq(strncmp(line, s->name, strlen(s->name)), 0, "%.80s", line);
        const char *end = strchr(line, '\n');
        cr_assert(end && memchr(line, '.', (size_t) (end - line)), "no range: %.80s", line);
    }
    cr_assert(strstr(text, "1..100000"), "%s", text);
    cr_assert(strstr(text, "1M..64G"), "%s", text);
    free(text);
}

/* ---- The programs refuse to start ----------------------------------------- */

/* Run fn with stderr going to a file; returns what it wrote (static). */
static const char *s_stderr_of(void (*fn)(void)) {
    static char text[4096];
    char path[] = "/tmp/pdc-test-config-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp");
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return text;
}

static pdc_client *g_c;
static void s_init(void) {
    g_c = pdc_init(NULL);
}

Test(config, pdc_init_refuses_an_out_of_range_setting) {
    setenv("PDC_MAX_TASKS_IN_FLIGHT", "0", 1);
    const char *err = s_stderr_of(s_init);
    int started = g_c != NULL;
    pdc_shutdown(&g_c);
    cr_assert(!started, "pdc_init started with PDC_MAX_TASKS_IN_FLIGHT=0");
    cr_assert(strstr(err, "PDC_MAX_TASKS_IN_FLIGHT=0 is out of range: max_tasks_in_flight "
                          "must be 1..100000"),
              "pdc_init said: %s", err);
    cr_assert(strstr(pdc_last_error(NULL), "PDC_MAX_TASKS_IN_FLIGHT=0 is out of range"),
              "pdc_last_error says: %s", pdc_last_error(NULL));
}

/* Run PDC_BIN_DIR/program with args (a shell word list), stderr into
   out; its exit status. */
static int s_run(const char *program, const char *args, char *out, size_t outlen) {
    const char *bin = getenv("PDC_BIN_DIR");
    cr_assert(bin && *bin, "PDC_BIN_DIR is not set (run through meson test)");
    char cmd[PATH_MAX + 512];
    snprintf(cmd, sizeof cmd, "'%s/%s' %s 2>&1 >/dev/null", bin, program, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "popen %s", cmd);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(config, daemons_refuse_bad_settings) {
    char out[2048];
    cr_assert_eq(s_run("pdc-head", "--set heartbeat_ms=0 --print-config", out, sizeof out), 2, "%s",
                 out);
    cr_assert(strstr(out, "heartbeat_ms=0 is out of range: heartbeat_ms (PDC_HEARTBEAT_MS) "
                          "must be 10..60000"),
              "%s", out);

    setenv("PDC_NODE_TIMEOUT_MS", "soon", 1);
    cr_assert_eq(s_run("pdc-head", "--print-config", out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "PDC_NODE_TIMEOUT_MS=soon is not an integer"), "%s", out);
    unsetenv("PDC_NODE_TIMEOUT_MS");

    setenv("PDC_TRANSFER_WINDOW", "0", 1);
    cr_assert_eq(s_run("pdc-raylet", "--print-config", out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "PDC_TRANSFER_WINDOW=0 is out of range"), "%s", out);
    cr_assert_eq(s_run("pdc-worker",
                       "--raylet ipc:///nonexistent --session /nonexistent "
                       "--worker-id 00000000000000000000000000000000",
                       out, sizeof out),
                 2, "%s", out);
    cr_assert(strstr(out, "PDC_TRANSFER_WINDOW=0 is out of range"), "%s", out);
    unsetenv("PDC_TRANSFER_WINDOW");

    /* pdc start checks --set before it starts any daemon. */
    cr_assert_eq(s_run("pdc", "start --head --port 1 --set max_tasks_in_flight=0", out, sizeof out),
                 2, "%s", out);
    cr_assert(strstr(out, "pdc start: --set max_tasks_in_flight=0 is out of range"), "%s", out);
}

Test(config, print_config_shows_the_ranges) {
    char out[16384];
    const char *bin = getenv("PDC_BIN_DIR");
    cr_assert(bin && *bin, "PDC_BIN_DIR is not set (run through meson test)");
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "'%s/pdc-head' --set max_tasks_in_flight=7 --print-config", bin);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0, "%s", out);
    const char *line = strstr(out, "\nmax_tasks_in_flight ");
    cr_assert(line, "%s", out);
    cr_assert(strstr(line, " 7 ") && strstr(line, "1..100000") &&
                  strstr(line, "PDC_MAX_TASKS_IN_FLIGHT"),
              "%.200s", line);
}
