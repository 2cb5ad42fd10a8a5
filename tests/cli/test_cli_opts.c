/* The option tables of the tools (src/tools/cli_opts.c): parsing, aliases,
 * generated usage, did-you-mean, options around the subcommand, operand counts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_json, g_force;
static const char *g_dir, *g_ca;
static uint64_t g_timeout;
static const char *g_names[2];
static struct fwt_opt_list g_list = {g_names, 0, 2};

static const struct fwt_opt k_global[] = {
    FWT_OPT_STR_('d', "dir", "DIR", &g_dir, "the directory"),
    FWT_OPT_STR_(0, "ca", "FILE", &g_ca, "CA certificates"),
    FWT_OPT_STR_(0, "ca-file", "FILE", &g_ca, NULL), /* hidden alias */
    FWT_OPT_U64_(0, "timeout", "SEC", &g_timeout, 1, 3600, "timeout | seconds\nsecond line"),
    FWT_OPT_FLAG_(0, "json", &g_json, "JSON output"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_init[] = {
    FWT_OPT_FLAG_('f', "force", &g_force, "replace"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_get[] = {
    FWT_OPT_LIST_('n', "name", "NAME", &g_list, "a name (repeatable)"),
    FWT_OPT_END_,
};
static const struct fwt_cli_cmd k_cmds[] = {
    {"init", "ROOT", 1, 1, "install a root", "Installs ROOT.", k_init},
    {"refresh", "", 0, 0, "refresh metadata", NULL, NULL},
    {"get", "[PATH...]", 0, -1, "download", NULL, k_get},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static const struct fwt_cli_prog k_prog = {
    "tprog", NULL, 0, 0, "A test program.", k_global, k_cmds, "Exit status: 0 or 1.",
};
static const struct fwt_cli_prog k_flat = {
    "tflat", "IN OUT", 2, 2, "No subcommands.", k_global, NULL, NULL,
};

static char g_err[4096];

static void reset(void)
{
    g_json = g_force = 0;
    g_dir = g_ca = NULL;
    g_timeout = 0;
    g_list.n = 0;
    g_err[0] = 0;
}

/* Run the parser on a NULL-terminated list; capture stderr into g_err. */
static int parse(const struct fwt_cli_prog *p, struct fwt_cli_args *a, char **v)
{
    static char *argv[32];
    int argc = 0;
    while (v[argc]) {
        argv[argc] = v[argc];
        argc++;
    }
    argv[argc] = NULL;
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    int rc = fwt_cli_parse(p, argc, argv, a);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(g_err, 1, sizeof(g_err) - 1, tmp);
    g_err[n] = 0;
    fclose(tmp);
    return rc;
}

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})

static void test_options_around_subcommand(void **s)
{
    (void)s;
    struct fwt_cli_args a;
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "--json", "init", "-d", "D", "r.json", "--force")), -1);
    assert_ptr_equal(a.cmd, &k_cmds[0]);
    assert_int_equal(a.argc, 1);
    assert_string_equal(a.argv[0], "r.json");
    assert_null(a.argv[1]);
    assert_int_equal(g_json, 1);
    assert_int_equal(g_force, 1);
    assert_string_equal(g_dir, "D");
    assert_string_equal(a.name, "tprog init");
    /* a subcommand option before the subcommand; an option argument that looks like a command */
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "--force", "--dir", "refresh", "init", "x")), -1);
    assert_ptr_equal(a.cmd, &k_cmds[0]);
    assert_string_equal(g_dir, "refresh");
    assert_string_equal(a.argv[0], "x");
    /* "--" ends the options */
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "get", "--", "--json", "b")), -1);
    assert_int_equal(a.argc, 2);
    assert_string_equal(a.argv[0], "--json");
    assert_string_equal(a.argv[1], "b");
    assert_int_equal(g_json, 0);
}

static void test_values_and_aliases(void **s)
{
    (void)s;
    struct fwt_cli_args a;
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "--ca-file=c.pem", "--timeout", "0x10", "get", "-n", "a",
                                             "--name=b", "p1")), -1);
    assert_string_equal(g_ca, "c.pem");
    assert_int_equal(g_timeout, 16);
    assert_int_equal(g_list.n, 2);
    assert_string_equal(g_names[0], "a");
    assert_string_equal(g_names[1], "b");
    assert_int_equal(a.argc, 1);
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "get", "-n", "a", "-n", "b", "-n", "c")), 1);
    assert_non_null(strstr(g_err, "more than 2 times"));
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "--timeout", "0", "refresh")), 1);
    assert_non_null(strstr(g_err, "tprog refresh: option '--timeout' needs a positive number up to 3600, not '0'"));
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "refresh", "--timeout", "3601")), 1);
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "refresh", "--timeout")), 1);
    assert_non_null(strstr(g_err, "option '--timeout' needs an argument (SEC)"));
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "refresh", "--json=yes")), 1);
    assert_non_null(strstr(g_err, "option '--json' takes no argument"));
}

static void test_errors_and_suggestions(void **s)
{
    (void)s;
    struct fwt_cli_args a;
    assert_int_equal(fwt_cli_distance("force", "forse"), 1);
    assert_int_equal(fwt_cli_distance("jsno", "json"), 1); /* transposition */
    assert_int_equal(fwt_cli_distance("", "abc"), 3);
    static const char *const names[] = {"init", "refresh", "get"};
    assert_string_equal(fwt_cli_suggest("refrsh", names, 3), "refresh");
    assert_null(fwt_cli_suggest("zzzzzz", names, 3));

    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "init", "--forse", "r")), 1);
    assert_string_equal(g_err, "tprog init: unknown option '--forse'; did you mean '--force'?\n"
                               "Try 'tprog init --help'.\n");
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "refrsh")), 1);
    assert_non_null(strstr(g_err, "tprog: unknown command 'refrsh'; did you mean 'refresh'?"));
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "bogus")), 1);
    assert_non_null(strstr(g_err, "unknown command 'bogus' (commands: init, refresh, get)"));
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "--json")), 1);
    assert_non_null(strstr(g_err, "tprog: no command (init, refresh, get)"));
    /* an option of another subcommand is named as such */
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "refresh", "--force")), 1);
    assert_non_null(strstr(g_err, "tprog refresh: option '--force' is not an option of this command (only of: init)"));
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "refresh", "--c", "x")), 1);
    assert_non_null(strstr(g_err, "tprog refresh: ambiguous option '--c' (--ca, --ca-file)"));
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "refresh", "--bogus")), 1);
    assert_string_equal(g_err, "tprog refresh: unknown option '--bogus'\nTry 'tprog refresh --help'.\n");
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "-x", "refresh")), 1);
    assert_non_null(strstr(g_err, "unknown option '-x'"));
    /* operand counts */
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "init")), 1);
    assert_non_null(strstr(g_err, "tprog init: missing operand: usage: tprog init ROOT"));
    reset();
    assert_int_equal(parse(&k_prog, &a, ARGV("tprog", "refresh", "x")), 1);
    assert_non_null(strstr(g_err, "unexpected operand 'x' (takes none)"));
    reset();
    assert_int_equal(parse(&k_flat, &a, ARGV("tflat", "a", "--json", "b")), -1);
    assert_null(a.cmd);
    assert_int_equal(a.argc, 2);
    assert_string_equal(a.argv[1], "b");
    reset();
    assert_int_equal(parse(&k_flat, &a, ARGV("tflat", "a", "b", "c")), 1);
    assert_non_null(strstr(g_err, "tflat: unexpected operand 'c'"));
}

/* Capture stdout of a parse that prints help. */
static char *stdout_of(const struct fwt_cli_prog *p, char **v)
{
    static char out[8192];
    struct fwt_cli_args a;
    fflush(stdout);
    FILE *tmp = tmpfile();
    int saved = dup(1);
    dup2(fileno(tmp), 1);
    int rc = parse(p, &a, v);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, sizeof(out) - 1, tmp);
    out[n] = 0;
    fclose(tmp);
    assert_int_equal(rc, 0);
    return out;
}

static void test_generated_help(void **s)
{
    (void)s;
    char *h = stdout_of(&k_prog, ARGV("tprog", "--help"));
    assert_non_null(strstr(h, "usage: tprog [OPTIONS] COMMAND [ARGS]\n\nA test program.\n\nCommands:\n"));
    assert_non_null(strstr(h, "  init ROOT                   install a root\n"));
    assert_non_null(strstr(h, "  -d, --dir DIR               the directory\n"));
    assert_non_null(strstr(h, "      --timeout SEC           timeout | seconds\n"
                              "                              second line\n"));
    assert_null(strstr(h, "--ca-file")); /* hidden alias */
    assert_null(strstr(h, "help-markdown"));
    assert_non_null(strstr(h, "\nExit status: 0 or 1.\n"));
    /* each subcommand has its own help: its options, then the global ones */
    h = stdout_of(&k_prog, ARGV("tprog", "init", "--help"));
    assert_non_null(strstr(h, "usage: tprog init [OPTIONS] ROOT\n\nInstalls ROOT.\n\nOptions of init:\n"
                              "  -f, --force                 replace\n"));
    assert_non_null(strstr(h, "Global options"));
    assert_null(strstr(h, "Commands:"));
    assert_null(strstr(h, "--name"));
    h = stdout_of(&k_prog, ARGV("tprog", "--help", "get"));
    assert_non_null(strstr(h, "usage: tprog get [OPTIONS] [PATH...]"));
    h = stdout_of(&k_prog, ARGV("tprog", "--version"));
    assert_string_equal(h, "tprog " FWT_TEST_VERSION "\n");
    h = stdout_of(&k_prog, ARGV("tprog", "--help-markdown"));
    assert_non_null(strstr(h, "## tprog\n"));
    assert_non_null(strstr(h, "### tprog init\n\n    tprog init [OPTIONS] ROOT\n"));
    assert_non_null(strstr(h, "| `--timeout SEC` | timeout \\| seconds second line |\n"));
}

/* Two-word commands ("log verify", "log show"): options anywhere, group help, suggestions. */
static void test_two_word_commands(void **s)
{
    (void)s;
    static int since;
    static const struct fwt_opt show_opts[] = {FWT_OPT_FLAG_(0, "all", &since, "every entry"), FWT_OPT_END_};
    static const struct fwt_cli_cmd cmds[] = {
        {"init", "", 0, 0, "create", NULL, NULL},
        {"log verify", "", 0, 0, "check the log", NULL, NULL},
        {"log show", "[N]", 0, 1, "print the log", NULL, show_opts},
        {NULL, NULL, 0, 0, NULL, NULL, NULL},
    };
    static const struct fwt_cli_prog p = {"tagent", NULL, 0, 0, "Agent.", k_global, cmds, NULL};
    struct fwt_cli_args a;
    reset();
    since = 0;
    assert_int_equal(parse(&p, &a, ARGV("tagent", "log", "--json", "show", "--all", "7", "-d", "D")), -1);
    assert_ptr_equal(a.cmd, &cmds[2]);
    assert_string_equal(a.name, "tagent log show");
    assert_int_equal(a.argc, 1);
    assert_string_equal(a.argv[0], "7");
    assert_int_equal(since, 1);
    assert_int_equal(g_json, 1);
    assert_string_equal(g_dir, "D");
    /* an option argument between the words is not a word */
    reset();
    assert_int_equal(parse(&p, &a, ARGV("tagent", "log", "--dir", "show", "verify")), -1);
    assert_ptr_equal(a.cmd, &cmds[1]);
    assert_string_equal(g_dir, "show");
    assert_int_equal(a.argc, 0);
    /* after "--" */
    reset();
    assert_int_equal(parse(&p, &a, ARGV("tagent", "--", "log", "show", "-1")), -1);
    assert_ptr_equal(a.cmd, &cmds[2]);
    assert_string_equal(a.argv[0], "-1");
    reset();
    assert_int_equal(parse(&p, &a, ARGV("tagent", "log", "shwo")), 1);
    assert_string_equal(g_err, "tagent log: unknown command 'shwo'; did you mean 'show'?\nTry 'tagent log --help'.\n");
    reset();
    assert_int_equal(parse(&p, &a, ARGV("tagent", "log")), 1);
    assert_string_equal(g_err, "tagent log: no command (log verify, log show)\nTry 'tagent log --help'.\n");
    reset();
    assert_int_equal(parse(&p, &a, ARGV("tagent", "lgo", "show")), 1);
    assert_string_equal(g_err, "tagent: unknown command 'lgo'; did you mean 'log'?\nTry 'tagent --help'.\n");
    /* one word holding a space is not the two words (found by fuzz_cli_opts) */
    reset();
    assert_int_equal(parse(&p, &a, ARGV("tagent", "log verify")), 1);
    assert_non_null(strstr(g_err, "tagent: unknown command 'log verify'"));
    reset();
    assert_int_equal(parse(&p, &a, ARGV("tagent", "log", "verify", "--all")), 1);
    assert_non_null(strstr(g_err, "option '--all' is not an option of this command (only of: log show)"));
    /* the group's help lists its commands only; a command's help is its own */
    char *h = stdout_of(&p, ARGV("tagent", "log", "--help"));
    assert_non_null(strstr(h, "usage: tagent [OPTIONS] log COMMAND [ARGS]\n"));
    assert_non_null(strstr(h, "  log show [N]"));
    assert_null(strstr(h, "  init"));
    h = stdout_of(&p, ARGV("tagent", "log", "show", "--help"));
    assert_non_null(strstr(h, "usage: tagent log show [OPTIONS] [N]\n"));
    assert_non_null(strstr(h, "Options of log show:\n      --all"));
    /* the Markdown reference: a section per command; '|' in a table cell escaped */
    static const char *mode;
    static const struct fwt_opt bar_opts[] = {FWT_OPT_STR_('m', "mode", "a|b", &mode, "a mode"), FWT_OPT_END_};
    static const struct fwt_cli_cmd bar_cmds[] = {
        {"log show", "A|B", 0, 1, "show", NULL, bar_opts},
        {NULL, NULL, 0, 0, NULL, NULL, NULL},
    };
    static const struct fwt_cli_prog bar = {"tbar", NULL, 0, 0, "Bars.", NULL, bar_cmds, NULL};
    h = stdout_of(&bar, ARGV("tbar", "--help-markdown"));
    assert_non_null(strstr(h, "| `log show A\\|B` | show |\n"));
    assert_non_null(strstr(h, "### tbar log show\n\n    tbar log show [OPTIONS] A|B\n"));
    assert_non_null(strstr(h, "| `-m, --mode a\\|b` | a mode |\n"));
}

/* A table may give a built-in name (--version) its own meaning, as fwtrust sign does. */
static void test_builtin_shadowed(void **s)
{
    (void)s;
    static const char *ver;
    static const struct fwt_opt opts[] = {FWT_OPT_STR_('v', "version", "V", &ver, "image version"), FWT_OPT_END_};
    static const struct fwt_cli_prog p = {"tsign", "", 0, 0, "Signs.", opts, NULL, NULL};
    struct fwt_cli_args a;
    reset();
    assert_int_equal(parse(&p, &a, ARGV("tsign", "--version", "1.2.3")), -1);
    assert_string_equal(ver, "1.2.3");
    char *h = stdout_of(&p, ARGV("tsign", "--help"));
    assert_non_null(strstr(h, "  -v, --version V             image version\n"));
    assert_null(strstr(h, "print the version"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_around_subcommand),
        cmocka_unit_test(test_values_and_aliases),
        cmocka_unit_test(test_errors_and_suggestions),
        cmocka_unit_test(test_generated_help),
        cmocka_unit_test(test_builtin_shadowed),
        cmocka_unit_test(test_two_word_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
