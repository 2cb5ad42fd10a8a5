/*
 * libFuzzer target: bytes -> fwt_cli_parse (the option tables of the tools,
 * src/tools/cli_opts.c). The input is split at NUL bytes into argv. Invariants:
 * the result is -1 (go on), 0 (help/version printed) or FWT_E_ARG; on -1 a
 * subcommand was chosen (one word, or two: "log show"), the operand count is
 * within its bounds, argv[argc] is NULL, every operand is one of the input
 * words and no word of the command is an operand. Run with -close_fd_mask=3:
 * the parser prints help and errors.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *g_s;
static uint64_t g_n;
static int g_f;
static const char *g_items[4];
static struct fwt_opt_list g_list = {g_items, 0, 4};

static const struct fwt_opt k_global[] = {
    FWT_OPT_STR_('d', "dir", "DIR", &g_s, "a directory"),
    FWT_OPT_STR_(0, "dir-old", "DIR", &g_s, NULL),
    FWT_OPT_U64_('n', "num", "N", &g_n, 1, 1000, "a number"),
    FWT_OPT_FLAG_('j', "json", &g_f, "JSON"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_a[] = {FWT_OPT_LIST_('k', "key", "K", &g_list, "keys"), FWT_OPT_END_};
static const struct fwt_opt k_b[] = {FWT_OPT_FLAG_('f', "force", &g_f, "force"), FWT_OPT_END_};
static const struct fwt_cli_cmd k_cmds[] = {
    {"alpha", "X [Y...]", 1, -1, "a", NULL, k_a},
    {"beta", "", 0, 0, "b", NULL, k_b},
    {"gamma", "[Z]", 0, 1, "c", NULL, NULL},
    {"log verify", "", 0, 0, "two words", NULL, k_b},
    {"log show", "[N...]", 0, -1, "two words", NULL, k_a},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static const struct fwt_cli_prog k_prog = {"fz", NULL, 0, 0, "Fuzzed.", k_global, k_cmds, "Exit."};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) {
        return 0;
    }
    char *text = malloc(size + 1);
    char *words[66];
    const char *orig[66];
    if (!text) {
        abort();
    }
    memcpy(text, data, size);
    text[size] = 0;
    int argc = 0;
    words[argc++] = (char *)"fz";
    for (size_t i = 0; i <= size && argc < 65;) {
        words[argc++] = text + i;
        i += strlen(text + i) + 1;
    }
    words[argc] = NULL;
    memcpy(orig, words, sizeof(orig));
    g_s = NULL;
    g_n = 0;
    g_f = 0;
    g_list.n = 0;
    struct fwt_cli_args a;
    int rc = fwt_cli_parse(&k_prog, argc, words, &a);
    if (rc != -1 && rc != 0 && rc != FWT_E_ARG) {
        abort();
    }
    if (rc == -1) {
        if (!a.cmd || a.argc < a.cmd->min_args || (a.cmd->max_args >= 0 && a.argc > a.cmd->max_args) ||
            a.argv[a.argc] != NULL || g_list.n > 4 || (g_n != 0 && (g_n < 1 || g_n > 1000))) {
            abort();
        }
        /* the command's words are input words, and not counted among the operands */
        size_t cw = strcspn(a.cmd->name, " ");
        int two = a.cmd->name[cw] == ' ';
        int w1 = 0, w2 = !two;
        for (int j = 1; j < argc; j++) {
            w1 |= strlen(orig[j]) == cw && !strncmp(orig[j], a.cmd->name, cw);
            w2 |= two && !strcmp(orig[j], a.cmd->name + cw + 1);
        }
        if (!w1 || !w2 || a.argc + 1 + two > argc - 1) {
            abort();
        }
        for (int i = 0; i < a.argc; i++) {
            int found = 0;
            for (int j = 1; j < argc && !found; j++) {
                found = a.argv[i] == orig[j];
            }
            if (!found) {
                abort();
            }
        }
    }
    free(text);
    return 0;
}
