/*
 * Declarative option tables on top of getopt_long (cli.h): parsing, usage
 * text, Markdown reference, "did you mean".
 */
#include "cli.h"

#include <fwtrust/fwtrust.h>

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define VAL_BASE 256 /* getopt value of table entry i: VAL_BASE + i */
#define HELP_COL 30  /* column of the help text in --help */

enum { B_HELP, B_VERSION, B_MARKDOWN, B_COUNT };
static const struct fwt_opt k_builtin[B_COUNT] = {
    FWT_OPT_FLAG_('h', "help", NULL, "print this help"),
    FWT_OPT_FLAG_(0, "version", NULL, "print the version"),
    FWT_OPT_FLAG_(0, "help-markdown", NULL, NULL), /* docs/cli.md */
};

const char *fwt_cli_version(void)
{
    return FWTRUST_VERSION_STRING;
}

unsigned fwt_cli_distance(const char *a, const char *b)
{
    enum { N = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= N || lb >= N) {
        return 255;
    }
    unsigned d[N][N];
    for (size_t i = 0; i <= la; i++) {
        d[i][0] = (unsigned)i;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = (unsigned)j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) {
                v = d[i][j - 1] + 1;
            }
            if (d[i - 1][j - 1] + cost < v) {
                v = d[i - 1][j - 1] + cost;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v) {
                v = d[i - 2][j - 2] + 1; /* transposition */
            }
            d[i][j] = v;
        }
    }
    return d[la][lb] > 255 ? 255 : d[la][lb];
}

const char *fwt_cli_suggest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    unsigned best_d = 255;
    size_t ls = strlen(s);
    /* close: at most 2 edits, and fewer than half the length of the word */
    unsigned limit = ls < 4 ? 1 : 2;
    for (size_t i = 0; i < n; i++) {
        unsigned d = fwt_cli_distance(s, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best && best_d <= limit && best_d > 0 ? best : NULL;
}

/* ---- tables ---- */

struct table {
    const struct fwt_opt *e[256];
    size_t n;
};

static int table_add(struct table *t, const struct fwt_opt *opts)
{
    for (const struct fwt_opt *o = opts; o && o->type != FWT_OPT_END; o++) {
        if (t->n == sizeof(t->e) / sizeof(t->e[0])) {
            return -1;
        }
        t->e[t->n++] = o;
    }
    return 0;
}

static const struct fwt_opt *find_long(const struct fwt_opt *opts, const char *name, size_t len);

/* A table may give a built-in name its own meaning. */
static int builtin_shadowed(const struct fwt_cli_prog *p, const struct fwt_cli_cmd *cmd, const struct fwt_opt *b)
{
    size_t len = strlen(b->long_name);
    return find_long(p->opts, b->long_name, len) || (cmd && find_long(cmd->opts, b->long_name, len));
}

static int table_build(struct table *t, const struct fwt_cli_prog *p, const struct fwt_cli_cmd *cmd)
{
    t->n = 0;
    if (table_add(t, p->opts) != 0 || (cmd && table_add(t, cmd->opts) != 0)) {
        return -1;
    }
    for (size_t i = 0; i < B_COUNT; i++) {
        if (builtin_shadowed(p, cmd, &k_builtin[i])) {
            continue; /* e.g. fwtrust sign --version V: the image version */
        }
        if (t->n == sizeof(t->e) / sizeof(t->e[0])) {
            return -1;
        }
        t->e[t->n++] = &k_builtin[i];
    }
    return 0;
}

static const struct fwt_opt *find_long(const struct fwt_opt *opts, const char *name, size_t len)
{
    for (const struct fwt_opt *o = opts; o && o->type != FWT_OPT_END; o++) {
        if (strlen(o->long_name) == len && !strncmp(o->long_name, name, len)) {
            return o;
        }
    }
    return NULL;
}

static const struct fwt_opt *find_short(const struct fwt_opt *opts, char c)
{
    for (const struct fwt_opt *o = opts; o && o->type != FWT_OPT_END; o++) {
        if (o->short_name && o->short_name == c) {
            return o;
        }
    }
    return NULL;
}

/* Does the option take an argument in any table of p (to find the subcommand)? */
static int takes_arg(const struct fwt_cli_prog *p, const char *name, size_t len, char c)
{
    const struct fwt_opt *o = c ? find_short(p->opts, c) : find_long(p->opts, name, len);
    for (const struct fwt_cli_cmd *cm = p->cmds; !o && cm && cm->name; cm++) {
        o = c ? find_short(cm->opts, c) : find_long(cm->opts, name, len);
    }
    return o && o->type != FWT_OPT_FLAG;
}

/*
 * Index in argv of the first operand at or after from; 0 when there is none.
 * *dd is set once "--" has been passed (every later word is an operand).
 */
static int next_operand(const struct fwt_cli_prog *p, int argc, char **argv, int from, int *dd)
{
    for (int i = from; i < argc; i++) {
        const char *a = argv[i];
        if (*dd) {
            return i;
        }
        if (!strcmp(a, "--")) {
            *dd = 1;
            continue;
        }
        if (a[0] != '-' || a[1] == 0) {
            return i;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            if (!eq && takes_arg(p, a + 2, strlen(a + 2), 0)) {
                i++;
            }
            continue;
        }
        for (const char *c = a + 1; *c; c++) {
            if (takes_arg(p, NULL, 0, *c)) {
                if (c[1] == 0) {
                    i++;
                }
                break;
            }
        }
    }
    return 0;
}

/* Is w the first word of two-word commands ("log" of "log verify")? */
static int is_group(const struct fwt_cli_prog *p, const char *w)
{
    size_t l = strlen(w);
    for (const struct fwt_cli_cmd *c = p->cmds; c && c->name; c++) {
        if (!strncmp(c->name, w, l) && c->name[l] == ' ') {
            return 1;
        }
    }
    return 0;
}

/* In group (NULL: every command): is c listed? */
static int in_group(const struct fwt_cli_cmd *c, const char *group)
{
    size_t l = group ? strlen(group) : 0;
    return !group || (!strncmp(c->name, group, l) && c->name[l] == ' ');
}

/* ---- help ---- */

static void opt_names(const struct fwt_opt *o, char *buf, size_t n)
{
    char sh[8] = "    ";
    if (o->short_name) {
        snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
    }
    snprintf(buf, n, "%s--%s%s%s", sh, o->long_name, o->argname ? " " : "", o->argname ? o->argname : "");
}

static void print_opts(const struct fwt_opt *opts, FILE *out)
{
    for (const struct fwt_opt *o = opts; o && o->type != FWT_OPT_END; o++) {
        if (!o->help) {
            continue;
        }
        char names[128];
        opt_names(o, names, sizeof(names));
        int w = fprintf(out, "  %s", names);
        if (w >= HELP_COL) {
            fprintf(out, "\n%*s", HELP_COL, "");
        } else {
            fprintf(out, "%*s", HELP_COL - w, "");
        }
        for (const char *h = o->help; *h; h++) {
            fputc(*h, out);
            if (*h == '\n') {
                fprintf(out, "%*s", HELP_COL, "");
            }
        }
        fputc('\n', out);
    }
}

static int has_visible(const struct fwt_opt *opts)
{
    for (const struct fwt_opt *o = opts; o && o->type != FWT_OPT_END; o++) {
        if (o->help) {
            return 1;
        }
    }
    return 0;
}

static void usage_line(const struct fwt_cli_prog *p, const struct fwt_cli_cmd *cmd, const char *prefix,
                       FILE *out)
{
    if (cmd) {
        fprintf(out, "%s%s %s [OPTIONS]%s%s", prefix, p->name, cmd->name, cmd->operands[0] ? " " : "",
                cmd->operands);
    } else if (p->cmds) {
        fprintf(out, "%s%s [OPTIONS] COMMAND [ARGS]", prefix, p->name);
    } else {
        fprintf(out, "%s%s [OPTIONS]%s%s", prefix, p->name, p->operands && p->operands[0] ? " " : "",
                p->operands ? p->operands : "");
    }
}

static void print_cmds(const struct fwt_cli_prog *p, const char *group, FILE *out)
{
    fputs("Commands:\n", out);
    for (const struct fwt_cli_cmd *c = p->cmds; c->name; c++) {
        if (!in_group(c, group)) {
            continue;
        }
        char head[96];
        snprintf(head, sizeof(head), "%s%s%s", c->name, c->operands[0] ? " " : "", c->operands);
        int w = fprintf(out, "  %s", head);
        fprintf(out, "%*s%s\n", w >= HELP_COL ? 1 : HELP_COL - w, "", c->summary);
    }
    if (group) {
        fprintf(out, "\n'%s %s COMMAND --help' describes a command.\n\n", p->name, group);
    } else {
        fprintf(out, "\n'%s COMMAND --help' describes a command.\n\n", p->name);
    }
}

static void print_global(const struct fwt_cli_prog *p, const struct fwt_cli_cmd *cmd, int sub, FILE *out)
{
    fputs(sub && p->opts ? "Global options (before or after the command):\n" : "Options:\n", out);
    print_opts(p->opts, out);
    for (size_t i = 0; i < B_COUNT; i++) {
        if (!builtin_shadowed(p, cmd, &k_builtin[i])) {
            struct fwt_opt one[2] = {k_builtin[i], FWT_OPT_END_};
            print_opts(one, out);
        }
    }
    if (p->epilog && p->epilog[0]) {
        fprintf(out, "\n%s\n", p->epilog);
    }
}

/* --help of a group of two-word commands ("prog log --help"). */
static void group_help(const struct fwt_cli_prog *p, const char *group, FILE *out)
{
    fprintf(out, "usage: %s [OPTIONS] %s COMMAND [ARGS]\n\n", p->name, group);
    print_cmds(p, group, out);
    print_global(p, NULL, 1, out);
}

void fwt_cli_help(const struct fwt_cli_prog *p, const struct fwt_cli_cmd *cmd, FILE *out)
{
    usage_line(p, cmd, "usage: ", out);
    fputs("\n\n", out);
    const char *desc = cmd ? (cmd->description ? cmd->description : cmd->summary) : p->description;
    if (desc && desc[0]) {
        fprintf(out, "%s\n\n", desc);
    }
    if (!cmd && p->cmds) {
        print_cmds(p, NULL, out);
    }
    if (cmd && has_visible(cmd->opts)) {
        fprintf(out, "Options of %s:\n", cmd->name);
        print_opts(cmd->opts, out);
        fputc('\n', out);
    }
    print_global(p, cmd, cmd != NULL, out);
}

static void md_text(const char *s, FILE *out)
{
    for (; *s; s++) {
        if (*s == '\n' && s[1] == '\n') {
            fputs("\n\n", out); /* a paragraph (descriptions only, never in a table) */
            s++;
        } else if (*s == '\n') {
            fputc(' ', out);
            while (s[1] == ' ') {
                s++;
            }
        } else if (*s == '|') {
            fputs("\\|", out);
        } else {
            fputc(*s, out);
        }
    }
}

static void md_opts(const struct fwt_opt *opts, FILE *out)
{
    if (!has_visible(opts)) {
        return;
    }
    fputs("\n| option | meaning |\n|---|---|\n", out);
    for (const struct fwt_opt *o = opts; o && o->type != FWT_OPT_END; o++) {
        if (!o->help) {
            continue;
        }
        char names[128];
        snprintf(names, sizeof(names), "%s%c%s--%s%s%s", o->short_name ? "-" : "", o->short_name ? o->short_name : ' ',
                 o->short_name ? ", " : "", o->long_name, o->argname ? " " : "", o->argname ? o->argname : "");
        fputs("| `", out);
        md_text(names + (o->short_name ? 0 : 1), out); /* a '|' in a table cell is escaped */
        fputs("` | ", out);
        md_text(o->help, out);
        fputs(" |\n", out);
    }
}

void fwt_cli_markdown(const struct fwt_cli_prog *p, FILE *out)
{
    fprintf(out, "## %s\n\n", p->name);
    usage_line(p, NULL, "    ", out);
    fputs("\n\n", out);
    if (p->description) {
        md_text(p->description, out);
        fputc('\n', out);
    }
    if (p->cmds) {
        fputs("\n| command | meaning |\n|---|---|\n", out);
        for (const struct fwt_cli_cmd *c = p->cmds; c->name; c++) {
            char head[128];
            snprintf(head, sizeof(head), "%s%s%s", c->name, c->operands[0] ? " " : "", c->operands);
            fputs("| `", out);
            md_text(head, out);
            fputs("` | ", out);
            md_text(c->summary, out);
            fputs(" |\n", out);
        }
    }
    if (has_visible(p->opts)) {
        fprintf(out, "\n%s:\n", p->cmds ? "Global options (before or after the command)" : "Options");
    }
    md_opts(p->opts, out);
    if (p->epilog) {
        fputc('\n', out);
        md_text(p->epilog, out);
        fputc('\n', out);
    }
    for (const struct fwt_cli_cmd *c = p->cmds; c && c->name; c++) {
        fprintf(out, "\n### %s %s\n\n", p->name, c->name);
        usage_line(p, c, "    ", out);
        fputs("\n\n", out);
        md_text(c->description ? c->description : c->summary, out);
        fputc('\n', out);
        md_opts(c->opts, out);
    }
}

/* ---- parsing ---- */

static int set_value(const char *name, const struct fwt_opt *o, const char *arg)
{
    switch (o->type) {
    case FWT_OPT_FLAG:
        if (o->dest) {
            *(int *)o->dest = 1;
        }
        return 0;
    case FWT_OPT_STRING:
        *(const char **)o->dest = arg;
        return 0;
    case FWT_OPT_U64: {
        uint64_t v;
        if (fwt_parse_u64(arg, o->max, &v) != FWT_OK || v < o->min) {
            if (o->min == 1) {
                return fwt_cli_usage_error(name, "option '--%s' needs a positive number up to %llu, not '%s'",
                                           o->long_name, (unsigned long long)o->max, arg);
            }
            return fwt_cli_usage_error(name, "option '--%s' needs a number from %llu to %llu, not '%s'",
                                       o->long_name, (unsigned long long)o->min,
                                       (unsigned long long)o->max, arg);
        }
        *(uint64_t *)o->dest = v;
        return 0;
    }
    case FWT_OPT_LIST: {
        struct fwt_opt_list *l = o->dest;
        if (l->n >= l->max) {
            return fwt_cli_usage_error(name, "option '--%s' given more than %zu times", o->long_name, l->max);
        }
        l->items[l->n++] = arg;
        return 0;
    }
    case FWT_OPT_END:
        break;
    }
    return fwt_cli_usage_error(name, "internal error: bad option table");
}

/* The subcommands that have the option, "a, b": empty when none. */
static const char *cmds_with_option(const struct fwt_cli_prog *p, const char *name, size_t len, char c,
                                    char *buf, size_t n)
{
    buf[0] = 0;
    for (const struct fwt_cli_cmd *cm = p->cmds; cm && cm->name; cm++) {
        if (c ? find_short(cm->opts, c) != NULL : find_long(cm->opts, name, len) != NULL) {
            size_t l = strlen(buf);
            snprintf(buf + l, n - l, "%s%s", l ? ", " : "", cm->name);
        }
    }
    return buf;
}

static int unknown_option(const struct fwt_cli_prog *p, const struct table *t, const char *name,
                          const char *arg, char c)
{
    char in[512];
    if (c) {
        if (cmds_with_option(p, NULL, 0, c, in, sizeof(in))[0]) {
            return fwt_cli_usage_error(name, "option '-%c' is not an option of this command (only of: %s)", c, in);
        }
        return fwt_cli_usage_error(name, "unknown option '-%c'", c);
    }
    const char *s = arg + 2;
    size_t len = strcspn(s, "=");
    if (cmds_with_option(p, s, len, 0, in, sizeof(in))[0]) {
        return fwt_cli_usage_error(name, "option '--%.*s' is not an option of this command (only of: %s)",
                                   (int)len, s, in);
    }
    const char *names[256] = {NULL};
    char word[64];
    snprintf(word, sizeof(word), "%.*s", (int)(len < 63 ? len : 63), s);
    for (size_t i = 0; i < t->n; i++) {
        names[i] = t->e[i]->long_name;
    }
    char cands[512] = "";
    size_t nc = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!strncmp(t->e[i]->long_name, word, strlen(word))) {
            size_t l = strlen(cands);
            snprintf(cands + l, sizeof(cands) - l, "%s--%s", l ? ", " : "", t->e[i]->long_name);
            nc++;
        }
    }
    if (nc > 1) {
        return fwt_cli_usage_error(name, "ambiguous option '--%s' (%s)", word, cands);
    }
    const char *sug = fwt_cli_suggest(word, names, t->n);
    if (sug) {
        return fwt_cli_usage_error(name, "unknown option '--%s'; did you mean '--%s'?", word, sug);
    }
    return fwt_cli_usage_error(name, "unknown option '--%s'", word);
}

static int check_count(const char *name, const char *operands, int min, int max, int n, char **ops)
{
    if (n < min) {
        return fwt_cli_usage_error(name, "missing operand: usage: %s%s%s", name, operands[0] ? " " : "", operands);
    }
    if (max >= 0 && n > max) {
        return fwt_cli_usage_error(name, "unexpected operand '%s'%s%s", ops[max],
                                   max == 0 ? " (takes none)" : "; usage: ", max == 0 ? "" : operands);
    }
    return -1;
}

static const struct fwt_cli_cmd *lookup_cmd(const struct fwt_cli_prog *p, const char *s)
{
    for (const struct fwt_cli_cmd *c = p->cmds; c->name; c++) {
        if (!strcmp(c->name, s)) {
            return c;
        }
    }
    return NULL;
}

/* "did you mean" among the first words of the commands (or, in group, their second words). */
static int unknown_command(const struct fwt_cli_prog *p, const char *group, const char *s)
{
    const char *names[64];
    char words[64][48];
    char list[512] = "";
    size_t n = 0, gl = group ? strlen(group) + 1 : 0;
    for (const struct fwt_cli_cmd *c = p->cmds; c->name && n < 64; c++) {
        if (!in_group(c, group)) {
            continue;
        }
        const char *w = c->name + gl;
        snprintf(words[n], sizeof(words[n]), "%.*s", (int)strcspn(w, " "), w);
        if (n == 0 || strcmp(words[n - 1], words[n]) != 0) {
            names[n] = words[n];
            n++;
        }
        size_t l = strlen(list);
        snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", w);
    }
    char prog[96];
    snprintf(prog, sizeof(prog), "%s%s%s", p->name, group ? " " : "", group ? group : "");
    const char *sug = fwt_cli_suggest(s, names, n);
    if (sug) {
        return fwt_cli_usage_error(prog, "unknown command '%s'; did you mean '%s'?", s, sug);
    }
    return fwt_cli_usage_error(prog, "unknown command '%s' (commands: %s)", s, list);
}

/* Is -h or --help among argv[from..to-1]? */
static int help_among(char **argv, int from, int to)
{
    for (int i = from; i < to; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            return 1;
        }
    }
    return 0;
}

/*
 * Find the command: its words (1, or 2 for "log verify") into *nwords. Returns
 * -1 to go on, else the exit code (help printed, or a usage error).
 */
static int choose_command(const struct fwt_cli_prog *p, int argc, char **argv, struct fwt_cli_args *args,
                          int *nwords)
{
    int dd = 0;
    int sub = next_operand(p, argc, argv, 1, &dd);
    *nwords = 0;
    if (!sub) {
        return -1;
    }
    const char *word = argv[sub];
    if (!is_group(p, word)) {
        args->cmd = strchr(word, ' ') ? NULL : lookup_cmd(p, word); /* "log verify" is two words */
        if (!args->cmd) {
            if (help_among(argv, 1, sub)) { /* "prog --help bogus" */
                fwt_cli_help(p, NULL, stdout);
                return 0;
            }
            return unknown_command(p, NULL, word);
        }
        *nwords = 1;
        snprintf(args->name, sizeof(args->name), "%s %s", p->name, args->cmd->name);
        return -1;
    }
    int sub2 = next_operand(p, argc, argv, sub + 1, &dd);
    char full[96];
    if (sub2) {
        snprintf(full, sizeof(full), "%s %s", word, argv[sub2]);
        args->cmd = lookup_cmd(p, full);
    }
    if (!args->cmd) {
        if (help_among(argv, 1, sub2 ? sub2 : argc)) { /* "prog log --help" */
            group_help(p, word, stdout);
            return 0;
        }
        if (sub2) {
            return unknown_command(p, word, argv[sub2]);
        }
        snprintf(full, sizeof(full), "%s %s", p->name, word);
        char list[512] = "";
        for (const struct fwt_cli_cmd *c = p->cmds; c->name; c++) {
            size_t l = strlen(list);
            if (in_group(c, word)) {
                snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", c->name);
            }
        }
        return fwt_cli_usage_error(full, "no command (%s)", list);
    }
    *nwords = 2;
    snprintf(args->name, sizeof(args->name), "%s %s", p->name, args->cmd->name);
    return -1;
}

int fwt_cli_parse(const struct fwt_cli_prog *p, int argc, char **argv, struct fwt_cli_args *args)
{
    memset(args, 0, sizeof(*args));
    snprintf(args->name, sizeof(args->name), "%s", p->name);
    int words = 0; /* the command's words, skipped among the operands */
    if (p->cmds) {
        int r = choose_command(p, argc, argv, args, &words);
        if (r >= 0) {
            return r;
        }
    }
    struct table t;
    if (table_build(&t, p, args->cmd) != 0) {
        return fwt_cli_usage_error(p->name, "internal error: option table too large");
    }
    struct option lo[sizeof(t.e) / sizeof(t.e[0]) + 1];
    char shorts[3 * sizeof(t.e) / sizeof(t.e[0]) + 4] = "-:";
    size_t sl = 2;
    for (size_t i = 0; i < t.n; i++) {
        const struct fwt_opt *o = t.e[i];
        lo[i] = (struct option){o->long_name, o->type == FWT_OPT_FLAG ? no_argument : required_argument, NULL,
                                (int)(VAL_BASE + i)};
        if (o->short_name) {
            shorts[sl++] = o->short_name;
            if (o->type != FWT_OPT_FLAG) {
                shorts[sl++] = ':';
            }
        }
    }
    shorts[sl] = 0;
    lo[t.n] = (struct option){NULL, 0, NULL, 0};

    int *ops = malloc(sizeof(int) * (size_t)(argc > 0 ? argc : 1));
    if (!ops) {
        return fwt_cli_usage_error(p->name, "out of memory");
    }
    int nops = 0, rc = -1, ch;
    optind = 0; /* GNU: full re-initialisation */
    opterr = 0;
    while (rc < 0 && (ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        const struct fwt_opt *o = NULL;
        if (ch >= VAL_BASE && ch < VAL_BASE + (int)t.n) {
            o = t.e[ch - VAL_BASE];
        } else if (ch != 1 && ch != '?' && ch != ':') {
            for (size_t i = 0; i < t.n && !o; i++) {
                o = t.e[i]->short_name == ch ? t.e[i] : NULL;
            }
        }
        if (ch == 1) {
            if (words > 0) {
                words--; /* a word of the command found above */
            } else {
                ops[nops++] = optind - 1;
            }
        } else if (ch == ':') {
            const struct fwt_opt *m = NULL;
            if (optopt >= VAL_BASE && optopt < VAL_BASE + (int)t.n) {
                m = t.e[optopt - VAL_BASE];
            }
            for (size_t i = 0; i < t.n && !m; i++) {
                m = t.e[i]->short_name == optopt ? t.e[i] : NULL;
            }
            rc = fwt_cli_usage_error(args->name, "option '--%s' needs an argument (%s)", m ? m->long_name : "?",
                                     m && m->argname ? m->argname : "?");
        } else if (ch == '?') {
            if (optopt >= VAL_BASE && optopt < VAL_BASE + (int)t.n) {
                rc = fwt_cli_usage_error(args->name, "option '--%s' takes no argument",
                                         t.e[optopt - VAL_BASE]->long_name);
            } else if (optopt) {
                rc = unknown_option(p, &t, args->name, NULL, (char)optopt);
            } else {
                rc = unknown_option(p, &t, args->name, argv[optind - 1], 0);
            }
        } else if (o == &k_builtin[B_HELP]) {
            fwt_cli_help(p, args->cmd, stdout);
            rc = 0;
        } else if (o == &k_builtin[B_VERSION]) {
            printf("%.*s %s\n", (int)strcspn(p->name, " "), p->name, FWTRUST_VERSION_STRING);
            rc = 0;
        } else if (o == &k_builtin[B_MARKDOWN]) {
            fwt_cli_markdown(p, stdout);
            rc = 0;
        } else if (o) {
            int r = set_value(args->name, o, optarg);
            rc = r == 0 ? -1 : r;
        } else {
            rc = fwt_cli_usage_error(args->name, "internal error: option table");
        }
    }
    if (rc >= 0) {
        free(ops);
        return rc;
    }
    while (optind < argc) { /* after "--" */
        if (words > 0) {
            words--;
            optind++;
            continue;
        }
        ops[nops++] = optind++;
    }
    /* operands to argv[1..nops] (in order, never overwriting one not yet moved) */
    for (int i = 0; i < nops; i++) {
        argv[1 + i] = argv[ops[i]];
    }
    free(ops);
    argv[1 + nops] = NULL;
    args->argc = nops;
    args->argv = argv + 1;
    if (p->cmds && !args->cmd) {
        char list[512] = "";
        for (const struct fwt_cli_cmd *c = p->cmds; c->name; c++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", c->name);
        }
        return fwt_cli_usage_error(p->name, "no command (%s)", list);
    }
    if (args->cmd) {
        return check_count(args->name, args->cmd->operands, args->cmd->min_args, args->cmd->max_args, nops,
                           args->argv);
    }
    return check_count(args->name, p->operands ? p->operands : "", p->min_args, p->max_args, nops, args->argv);
}

int fwt_cli_parse_group(const struct fwt_cli_prog *p, int argc, char **argv, struct fwt_cli_args *args)
{
    if (argc < 2) {
        fwt_cli_help(p, NULL, stderr);
        return FWT_E_ARG;
    }
    return fwt_cli_parse(p, argc, argv, args);
}
