/*
 * PKCS#11 token keys: the module is loaded with dlopen (no link-time
 * dependency on any token library), keys are named by RFC 7512 URIs
 * (pkcs11_uri.c), signing calls C_Sign so private key bytes never leave the
 * token, and keygen makes non-extractable key pairs inside the token.
 *
 * Modules are reference counted: each fwt_p11_key holds one reference and
 * one session; the module is finalized (if we initialized it) and unloaded
 * when the last key is closed. Logins are counted per token so closing one
 * key does not log out another key's session. One key must not be used by
 * two threads at once (its session is not shared).
 *
 * PINs are read from a file (--pin-file, else pin-source= in the URI), kept
 * on the stack only for C_Login and wiped; a key that needs the PIN for
 * every signature (CKA_ALWAYS_AUTHENTICATE) keeps a copy in its handle until
 * fwt_p11_close wipes it.
 */
#include "keys_internal.h"

#include <fwtrust/fwt_util.h>
#include "pkcs11_uri.h"
#include "secret.h"

#include <p11-kit/pkcs11.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#ifndef FWT_P11_MODULE_DIR
#define FWT_P11_MODULE_DIR "/usr/lib/x86_64-linux-gnu/pkcs11"
#endif

#define PIN_MAX 256U          /* longest PIN accepted */
#define ATTR_MAX (16U * 1024U) /* largest attribute value read */
#define RAW_SIG_MAX 1024U     /* largest raw signature (RSA-8192) */
#define SLOTS_MAX 1024U
#define KEYGEN_ID_LEN 16U

/* ---- small helpers ---- */

/* C_* take non-const pointers to data they only read. */
static void *unconst(const void *p)
{
    return (void *)(uintptr_t)p;
}

static const char *ckr_name(CK_RV rv)
{
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {
        {CKR_OK, "CKR_OK"},
        {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
        {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
        {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
        {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
        {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
        {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
        {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
        {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
        {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"},
        {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
        {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
        {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
        {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
        {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
        {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
        {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
        {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
        {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
        {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
        {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
        {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
        {CKR_PIN_INVALID, "CKR_PIN_INVALID"},
        {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
        {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED"},
        {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
        {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
        {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
        {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
        {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
        {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
        {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
        {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
        {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
        {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
        {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
        {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID"},
        {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
        {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
        {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
        {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].rv == rv) {
            return names[i].name;
        }
    }
    static _Thread_local char buf[32];
    snprintf(buf, sizeof(buf), "CKR 0x%lx", (unsigned long)rv);
    return buf;
}

/* A blank-padded PKCS#11 text field, trimmed, with unprintable bytes shown as '?'. */
static void field_text(const CK_UTF8CHAR *f, size_t n, char *out, size_t cap)
{
    while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == 0)) {
        n--;
    }
    if (n >= cap) {
        n = cap - 1;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (f[i] >= 0x20 && f[i] < 0x7f) ? (char)f[i] : '?';
    }
    out[n] = 0;
}

/* Does the blank-padded field equal want (trailing blanks ignored on both sides)? */
static int field_eq(const CK_UTF8CHAR *f, size_t n, const char *want)
{
    while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == 0)) {
        n--;
    }
    size_t w = strlen(want);
    while (w > 0 && want[w - 1] == ' ') {
        w--;
    }
    return n == w && memcmp(f, want, n) == 0;
}

/* ---- modules ---- */

struct p11_login {
    CK_SLOT_ID slot;
    unsigned count;
    uint8_t pin_hash[32]; /* SHA-256 of the PIN we logged in with (while count > 0) */
};

struct p11_module {
    struct p11_module *next;
    char *path; /* canonical path */
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    unsigned refs;
    int finalize; /* we called C_Initialize, so we call C_Finalize */
    struct p11_login *logins;
    size_t n_logins;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *g_modules;

static int is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Find module name in dir: NAME, libNAME.so, NAME.so. */
static char *lookup_name(const char *dir, const char *name)
{
    static const char *const pre[] = {"", "lib", ""}, *const suf[] = {"", ".so", ".so"};
    for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
        char buf[PATH_MAX];
        int n = snprintf(buf, sizeof(buf), "%s/%s%s%s", dir, pre[i], name, suf[i]);
        if (n > 0 && (size_t)n < sizeof(buf) && is_regular(buf)) {
            return strdup(buf);
        }
    }
    return NULL;
}

/* The module named by the URI (module-path=, module-name=), or NULL in *out when none. */
static fwt_err uri_module(const struct fwt_p11_uri *u, char **out)
{
    *out = NULL;
    if (u->module_path != NULL) {
        if (is_dir(u->module_path)) {
            if (u->module_name == NULL) {
                return fwt_fail(FWT_E_ARG, "PKCS#11 URI: module-path=%s is a directory; add "
                                           "module-name= to name the module in it",
                                u->module_path);
            }
            *out = lookup_name(u->module_path, u->module_name);
            if (*out == NULL) {
                return fwt_fail(FWT_E_NOT_FOUND, "PKCS#11 module not found: %s in %s",
                                u->module_name, u->module_path);
            }
            return FWT_OK;
        }
        *out = strdup(u->module_path);
        return *out ? FWT_OK : FWT_E_NOMEM;
    }
    if (u->module_name != NULL) {
        *out = lookup_name(FWT_P11_MODULE_DIR, u->module_name);
        if (*out == NULL) {
            return fwt_fail(FWT_E_NOT_FOUND, "PKCS#11 module not found: module-name=%s (looked "
                                             "in %s)",
                            u->module_name, FWT_P11_MODULE_DIR);
        }
    }
    return FWT_OK;
}

static fwt_err canonical(const char *path, char **out)
{
    *out = realpath(path, NULL);
    if (*out == NULL) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return fwt_fail(FWT_E_NOT_FOUND, "PKCS#11 module not found: %s", path);
        }
        return fwt_fail(FWT_E_IO, "PKCS#11 module %s: %s", path, strerror(errno));
    }
    if (!is_regular(*out)) {
        free(*out);
        *out = NULL;
        return fwt_fail(FWT_E_ARG, "PKCS#11 module %s is not a file", path);
    }
    return FWT_OK;
}

/*
 * Which module: --pkcs11-module, else module-path=/module-name= in the URI,
 * else $FWTRUST_PKCS11_MODULE. When both the option and the URI name one
 * they must be the same file. No default: a module must be named.
 */
static fwt_err resolve_module(const struct fwt_p11_uri *u, const struct fwt_key_opts *opts,
                              char **out)
{
    *out = NULL;
    const char *opt = opts ? opts->pkcs11_module : NULL;
    if (opt != NULL && opt[0] == 0) {
        return fwt_fail(FWT_E_ARG, "--pkcs11-module is empty");
    }
    char *from_uri = NULL;
    fwt_err e = uri_module(u, &from_uri);
    if (e != FWT_OK) {
        return e;
    }
    const char *env = getenv("FWTRUST_PKCS11_MODULE");
    const char *pick = opt ? opt : from_uri ? from_uri : (env && env[0]) ? env : NULL;
    if (pick == NULL) {
        return fwt_fail(FWT_E_ARG, "no PKCS#11 module named: give --pkcs11-module PATH, "
                                   "module-path= in the URI, or set FWTRUST_PKCS11_MODULE");
    }
    e = canonical(pick, out);
    if (e == FWT_OK && opt != NULL && from_uri != NULL) {
        char *other = NULL;
        e = canonical(from_uri, &other);
        if (e == FWT_OK && strcmp(other, *out) != 0) {
            e = fwt_fail(FWT_E_ARG, "--pkcs11-module %s and the URI's module (%s) differ", opt,
                         from_uri);
        }
        free(other);
        if (e != FWT_OK) {
            free(*out);
            *out = NULL;
        }
    }
    free(from_uri);
    return e;
}

static fwt_err module_get(const char *path, struct p11_module **out)
{
    fwt_err e = FWT_OK;
    pthread_mutex_lock(&g_lock);
    for (struct p11_module *m = g_modules; m != NULL; m = m->next) {
        if (strcmp(m->path, path) == 0) {
            m->refs++;
            *out = m;
            pthread_mutex_unlock(&g_lock);
            return FWT_OK;
        }
    }
    struct p11_module *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->path = strdup(path)) == NULL) {
        e = FWT_E_NOMEM;
        goto fail;
    }
    /*
     * RTLD_NODELETE: after C_Finalize the module stays mapped. Many modules
     * leave threads or exit handlers behind that would run unmapped code;
     * and leak reports can still name the module.
     */
    m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (m->dl == NULL) {
        const char *why = dlerror();
        e = fwt_fail(FWT_E_CRYPTO, "cannot load PKCS#11 module %s: %s", path,
                     why ? why : "dlopen failed");
        goto fail;
    }
    void *sym = dlsym(m->dl, "C_GetFunctionList");
    if (sym == NULL) {
        e = fwt_fail(FWT_E_CRYPTO, "%s is not a PKCS#11 module (no C_GetFunctionList)", path);
        goto fail;
    }
    CK_C_GetFunctionList gfl;
    memcpy(&gfl, &sym, sizeof(gfl));
    CK_RV rv = gfl(&m->f);
    if (rv != CKR_OK || m->f == NULL) {
        e = fwt_fail(FWT_E_CRYPTO, "PKCS#11 module %s: C_GetFunctionList failed (%s)", path,
                     ckr_name(rv));
        goto fail;
    }
    if (m->f->version.major != 2) {
        e = fwt_fail(FWT_E_CRYPTO, "PKCS#11 module %s offers interface version %u.%u; 2.x needed",
                     path, m->f->version.major, m->f->version.minor);
        goto fail;
    }
    /* A module with holes in its function list must not be called through them. */
    CK_FUNCTION_LIST_PTR f = m->f;
    if (!f->C_Initialize || !f->C_Finalize || !f->C_GetInfo || !f->C_GetSlotList ||
        !f->C_GetSlotInfo || !f->C_GetTokenInfo || !f->C_OpenSession || !f->C_CloseSession ||
        !f->C_Login || !f->C_Logout || !f->C_FindObjectsInit || !f->C_FindObjects ||
        !f->C_FindObjectsFinal || !f->C_GetAttributeValue || !f->C_SignInit || !f->C_Sign ||
        !f->C_GenerateKeyPair || !f->C_DestroyObject) {
        e = fwt_fail(FWT_E_CRYPTO, "PKCS#11 module %s lacks functions fwtrust needs", path);
        goto fail;
    }
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    rv = m->f->C_Initialize(&args);
    if (rv == CKR_OK) {
        m->finalize = 1;
    } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        e = fwt_fail(FWT_E_CRYPTO, "PKCS#11 module %s: C_Initialize failed (%s)", path,
                     ckr_name(rv));
        goto fail;
    }
    m->refs = 1;
    m->next = g_modules;
    g_modules = m;
    *out = m;
    pthread_mutex_unlock(&g_lock);
    return FWT_OK;
fail:
    if (m != NULL) {
        if (m->dl != NULL) {
            dlclose(m->dl);
        }
        free(m->path);
        free(m);
    }
    pthread_mutex_unlock(&g_lock);
    return e;
}

static void module_put(struct p11_module *m)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&g_lock);
    if (--m->refs == 0) {
        for (struct p11_module **pp = &g_modules; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == m) {
                *pp = m->next;
                break;
            }
        }
        if (m->finalize) {
            (void)m->f->C_Finalize(NULL);
        }
        dlclose(m->dl);
        free(m->logins);
        free(m->path);
        free(m);
    }
    pthread_mutex_unlock(&g_lock);
}

/* Login counts per token (caller holds g_lock). */
static struct p11_login *login_entry(struct p11_module *m, CK_SLOT_ID slot, int add)
{
    for (size_t i = 0; i < m->n_logins; i++) {
        if (m->logins[i].slot == slot) {
            return &m->logins[i];
        }
    }
    if (!add) {
        return NULL;
    }
    struct p11_login *n = realloc(m->logins, (m->n_logins + 1) * sizeof(*n));
    if (n == NULL) {
        return NULL;
    }
    m->logins = n;
    n[m->n_logins].slot = slot;
    n[m->n_logins].count = 0;
    return &n[m->n_logins++];
}

/* ---- sessions ---- */

struct p11_sess {
    struct p11_module *mod;
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE h;
    int open;
    int logged_in;
    CK_FLAGS token_flags;
    char token[33]; /* label, printable */
};

static void sess_end(struct p11_sess *s)
{
    if (s->open) {
        if (s->logged_in) {
            pthread_mutex_lock(&g_lock);
            struct p11_login *l = login_entry(s->mod, s->slot, 0);
            if (l != NULL && l->count > 0 && --l->count == 0) {
                (void)s->f->C_Logout(s->h);
                fwt_zeroize(l->pin_hash, sizeof(l->pin_hash));
            }
            pthread_mutex_unlock(&g_lock);
        }
        (void)s->f->C_CloseSession(s->h);
    }
    module_put(s->mod);
    memset(s, 0, sizeof(*s));
}

/* Does the library (CK_INFO) match the URI's library-* attributes? */
static fwt_err match_library(struct p11_sess *s, const struct fwt_p11_uri *u)
{
    if (!u->library_manufacturer && !u->library_description && !u->has_library_version) {
        return FWT_OK;
    }
    CK_INFO info;
    CK_RV rv = s->f->C_GetInfo(&info);
    if (rv != CKR_OK) {
        return fwt_fail(FWT_E_CRYPTO, "PKCS#11 module %s: C_GetInfo failed (%s)", s->mod->path,
                        ckr_name(rv));
    }
    if ((u->library_manufacturer &&
         !field_eq(info.manufacturerID, sizeof(info.manufacturerID), u->library_manufacturer)) ||
        (u->library_description && !field_eq(info.libraryDescription,
                                             sizeof(info.libraryDescription),
                                             u->library_description)) ||
        (u->has_library_version &&
         (info.libraryVersion.major != u->library_version_major ||
          info.libraryVersion.minor != u->library_version_minor))) {
        char manuf[33], desc[33];
        field_text(info.manufacturerID, sizeof(info.manufacturerID), manuf, sizeof(manuf));
        field_text(info.libraryDescription, sizeof(info.libraryDescription), desc, sizeof(desc));
        return fwt_fail(FWT_E_NOT_FOUND,
                        "PKCS#11 module %s (library-manufacturer=%s, library-description=%s, "
                        "library-version=%u.%u) does not match the URI's library attributes",
                        s->mod->path, manuf, desc, info.libraryVersion.major,
                        info.libraryVersion.minor);
    }
    return FWT_OK;
}

static int token_matches(const struct fwt_p11_uri *u, const CK_TOKEN_INFO *t)
{
    return (!u->token || field_eq(t->label, sizeof(t->label), u->token)) &&
           (!u->manufacturer ||
            field_eq(t->manufacturerID, sizeof(t->manufacturerID), u->manufacturer)) &&
           (!u->model || field_eq(t->model, sizeof(t->model), u->model)) &&
           (!u->serial || field_eq(t->serialNumber, sizeof(t->serialNumber), u->serial));
}

static int slot_matches(const struct fwt_p11_uri *u, const CK_SLOT_INFO *si)
{
    return (!u->slot_description ||
            field_eq(si->slotDescription, sizeof(si->slotDescription), u->slot_description)) &&
           (!u->slot_manufacturer ||
            field_eq(si->manufacturerID, sizeof(si->manufacturerID), u->slot_manufacturer));
}

/* What the URI asks of the token, for messages. */
static void token_want(const struct fwt_p11_uri *u, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
#define WANT(fmt, ...)                                                                          \
    do {                                                                                        \
        int n_ = snprintf(buf + o, cap - o, "%s" fmt, o ? ";" : "", __VA_ARGS__);               \
        if (n_ > 0 && (size_t)n_ < cap - o) {                                                   \
            o += (size_t)n_;                                                                    \
        }                                                                                       \
    } while (0)
    if (u->token) {
        WANT("token=%s", u->token);
    }
    if (u->manufacturer) {
        WANT("manufacturer=%s", u->manufacturer);
    }
    if (u->model) {
        WANT("model=%s", u->model);
    }
    if (u->serial) {
        WANT("serial=%s", u->serial);
    }
    if (u->has_slot_id) {
        WANT("slot-id=%lu", u->slot_id);
    }
    if (u->slot_description) {
        WANT("slot-description=%s", u->slot_description);
    }
    if (u->slot_manufacturer) {
        WANT("slot-manufacturer=%s", u->slot_manufacturer);
    }
#undef WANT
    if (o == 0) {
        snprintf(buf, cap, "any token");
    }
}

/* Load the module, find the one token the URI names, open a session. */
static fwt_err sess_begin(const struct fwt_p11_uri *u, const struct fwt_key_opts *opts, int rw,
                          struct p11_sess *s)
{
    memset(s, 0, sizeof(*s));
    char *path = NULL;
    fwt_err e = resolve_module(u, opts, &path);
    if (e != FWT_OK) {
        return e;
    }
    e = module_get(path, &s->mod);
    free(path);
    if (e != FWT_OK) {
        return e;
    }
    s->f = s->mod->f;
    e = match_library(s, u);
    if (e != FWT_OK) {
        sess_end(s);
        return e;
    }
    CK_ULONG n = 0;
    CK_SLOT_ID *slots = NULL;
    CK_RV rv = s->f->C_GetSlotList(CK_TRUE, NULL, &n);
    for (int tries = 0; rv == CKR_OK && tries < 3; tries++) {
        if (n > SLOTS_MAX) {
            rv = CKR_GENERAL_ERROR;
            break;
        }
        free(slots);
        slots = calloc(n ? n : 1, sizeof(*slots));
        if (slots == NULL) {
            sess_end(s);
            return FWT_E_NOMEM;
        }
        rv = s->f->C_GetSlotList(CK_TRUE, slots, &n);
        if (rv != CKR_BUFFER_TOO_SMALL) {
            break;
        }
        rv = s->f->C_GetSlotList(CK_TRUE, NULL, &n);
    }
    if (rv != CKR_OK) {
        free(slots);
        e = fwt_fail(FWT_E_CRYPTO, "PKCS#11 module %s: C_GetSlotList failed (%s)", s->mod->path,
                     ckr_name(rv));
        sess_end(s);
        return e;
    }
    size_t matches = 0;
    char seen[512] = "";
    size_t seen_len = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (s->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED)) {
            continue;
        }
        char label[33];
        field_text(ti.label, sizeof(ti.label), label, sizeof(label));
        int k = snprintf(seen + seen_len, sizeof(seen) - seen_len, "%s'%s' (slot-id=%lu)",
                         seen_len ? ", " : "", label, (unsigned long)slots[i]);
        if (k > 0 && (size_t)k < sizeof(seen) - seen_len) {
            seen_len += (size_t)k;
        }
        if (u->has_slot_id && slots[i] != u->slot_id) {
            continue;
        }
        if (u->slot_description || u->slot_manufacturer) {
            CK_SLOT_INFO si;
            if (s->f->C_GetSlotInfo(slots[i], &si) != CKR_OK || !slot_matches(u, &si)) {
                continue;
            }
        }
        if (!token_matches(u, &ti)) {
            continue;
        }
        if (matches++ == 0) {
            s->slot = slots[i];
            s->token_flags = ti.flags;
            memcpy(s->token, label, sizeof(label));
        }
    }
    free(slots);
    char want[256];
    token_want(u, want, sizeof(want));
    if (matches == 0) {
        e = fwt_fail(FWT_E_NOT_FOUND, "PKCS#11 token not found: no token matches %s in %s "
                                      "(tokens: %s)",
                     want, s->mod->path, seen_len ? seen : "none");
        sess_end(s);
        return e;
    }
    if (matches > 1) {
        e = fwt_fail(FWT_E_ARG, "%zu PKCS#11 tokens match %s (%s); name one with token=, "
                                "serial= or slot-id=",
                     matches, want, seen);
        sess_end(s);
        return e;
    }
    CK_FLAGS fl = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    rv = s->f->C_OpenSession(s->slot, fl, NULL, NULL, &s->h);
    if (rv != CKR_OK) {
        e = fwt_fail(rv == CKR_TOKEN_WRITE_PROTECTED ? FWT_E_KEY : FWT_E_CRYPTO,
                     "PKCS#11 token '%s': cannot open a session (%s)", s->token, ckr_name(rv));
        sess_end(s);
        return e;
    }
    s->open = 1;
    return FWT_OK;
}

/* The PIN: first line of --pin-file, else of pin-source=. *have = 0 when neither is given. */
static fwt_err read_pin(const struct fwt_p11_uri *u, const struct fwt_key_opts *opts, char *pin,
                        size_t *pin_len, int *have)
{
    *have = 0;
    *pin_len = 0;
    const char *path = (opts && opts->pin_file) ? opts->pin_file : u->pin_source;
    if (path == NULL) {
        return FWT_OK;
    }
    fwt_err e = fwt_secret_read_line(path, "PIN", pin, PIN_MAX + 1, pin_len);
    *have = e == FWT_OK;
    return e;
}

static fwt_err pin_error(const struct p11_sess *s, CK_RV rv)
{
    switch (rv) {
    case CKR_PIN_INCORRECT:
        return fwt_fail(FWT_E_KEY, "token refused the PIN (CKR_PIN_INCORRECT) for token '%s'",
                        s->token);
    case CKR_PIN_LOCKED:
        return fwt_fail(FWT_E_KEY, "token '%s' has locked its PIN (CKR_PIN_LOCKED): too many "
                                   "wrong PINs; the security officer must reset it",
                        s->token);
    case CKR_PIN_EXPIRED:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_USER_PIN_NOT_INITIALIZED:
        return fwt_fail(FWT_E_KEY, "token '%s' refused the PIN (%s)", s->token, ckr_name(rv));
    default:
        return fwt_fail(FWT_E_CRYPTO, "token '%s': C_Login failed (%s)", s->token, ckr_name(rv));
    }
}

/*
 * Log in to the token. A token is logged in once per process: when another of
 * our keys already logged in to it, the token does not check the PIN again
 * (CKR_USER_ALREADY_LOGGED_IN), so we compare it with the hash of the PIN that
 * logged in. A login by someone else in the process is refused: we cannot vouch
 * for a PIN we never checked.
 */
static fwt_err sess_login(struct p11_sess *s, const char *pin, size_t pin_len)
{
    uint8_t h[32];
    if (fwt_sha256(pin, pin_len, h) != FWT_OK) {
        return FWT_E_CRYPTO;
    }
    fwt_err e = FWT_OK;
    pthread_mutex_lock(&g_lock);
    struct p11_login *l = login_entry(s->mod, s->slot, 1);
    if (l == NULL) {
        e = FWT_E_NOMEM;
        goto out;
    }
    CK_RV rv = s->f->C_Login(s->h, CKU_USER, (CK_UTF8CHAR_PTR)unconst(pin), pin_len);
    if (rv == CKR_USER_ALREADY_LOGGED_IN && l->count == 0) {
        e = fwt_fail(FWT_E_KEY, "token '%s' is already logged in by another user of the module "
                                "in this process",
                     s->token);
    } else if (rv == CKR_USER_ALREADY_LOGGED_IN &&
               fwt_ct_compare(h, l->pin_hash, sizeof(h)) != 0) {
        e = fwt_fail(FWT_E_KEY, "wrong PIN for token '%s': it differs from the PIN this process "
                                "logged in with (the token is logged in already)",
                     s->token);
    } else if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        if (rv == CKR_OK) {
            memcpy(l->pin_hash, h, sizeof(h));
        }
        l->count++;
        s->logged_in = 1;
    } else {
        e = pin_error(s, rv);
    }
out:
    pthread_mutex_unlock(&g_lock);
    fwt_zeroize(h, sizeof(h));
    return e;
}

/* Log in when a PIN is given; when none is given and need is set, say how to give one. */
static fwt_err sess_auth(struct p11_sess *s, const struct fwt_p11_uri *u,
                         const struct fwt_key_opts *opts, int need, char *pin, size_t *pin_len)
{
    int have = 0;
    fwt_err e = read_pin(u, opts, pin, pin_len, &have);
    if (e != FWT_OK) {
        return e;
    }
    if (!have) {
        if (need && (s->token_flags & CKF_LOGIN_REQUIRED)) {
            return fwt_fail(FWT_E_ARG, "token '%s' needs its PIN: give --pin-file FILE or "
                                       "pin-source=FILE in the URI",
                            s->token);
        }
        return FWT_OK;
    }
    return sess_login(s, pin, *pin_len);
}

/* ---- objects and attributes ---- */

static fwt_err find_objects(struct p11_sess *s, CK_OBJECT_CLASS *cls, const char *label,
                            const uint8_t *id, size_t id_len, CK_OBJECT_HANDLE *found,
                            size_t *count)
{
    CK_ATTRIBUTE t[3];
    CK_ULONG n = 0;
    if (cls != NULL) {
        t[n++] = (CK_ATTRIBUTE){CKA_CLASS, cls, sizeof(*cls)};
    }
    if (label != NULL) {
        t[n++] = (CK_ATTRIBUTE){CKA_LABEL, unconst(label), strlen(label)};
    }
    if (id != NULL) {
        t[n++] = (CK_ATTRIBUTE){CKA_ID, unconst(id), id_len};
    }
    *count = 0;
    CK_RV rv = s->f->C_FindObjectsInit(s->h, t, n);
    if (rv != CKR_OK) {
        return fwt_fail(FWT_E_CRYPTO, "token '%s': C_FindObjectsInit failed (%s)", s->token,
                        ckr_name(rv));
    }
    CK_OBJECT_HANDLE h[2];
    CK_ULONG got = 0;
    rv = s->f->C_FindObjects(s->h, h, 2, &got);
    (void)s->f->C_FindObjectsFinal(s->h);
    if (rv != CKR_OK || got > 2) {
        return fwt_fail(FWT_E_CRYPTO, "token '%s': C_FindObjects failed (%s)", s->token,
                        ckr_name(rv));
    }
    if (got > 0 && found != NULL) {
        *found = h[0];
    }
    *count = got;
    return FWT_OK;
}

/* A variable-length attribute (malloc'd, *len bytes; NUL-terminated for convenience). */
static fwt_err get_attr(struct p11_sess *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                        const char *what, uint8_t **val, size_t *len)
{
    *val = NULL;
    *len = 0;
    CK_ATTRIBUTE a = {type, NULL, 0};
    CK_RV rv = s->f->C_GetAttributeValue(s->h, o, &a, 1);
    if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
        return fwt_fail(FWT_E_KEY, "token '%s': cannot read the key's %s (%s)", s->token, what,
                        ckr_name(rv));
    }
    if (a.ulValueLen > ATTR_MAX) {
        return fwt_fail(FWT_E_KEY, "token '%s': the key's %s is %lu bytes (at most %u)",
                        s->token, what, (unsigned long)a.ulValueLen, ATTR_MAX);
    }
    CK_ULONG cap = a.ulValueLen;
    a.pValue = calloc(1, cap + 1);
    if (a.pValue == NULL) {
        return FWT_E_NOMEM;
    }
    rv = s->f->C_GetAttributeValue(s->h, o, &a, 1);
    if (rv != CKR_OK || a.ulValueLen > cap) {
        free(a.pValue);
        return fwt_fail(FWT_E_KEY, "token '%s': cannot read the key's %s (%s)", s->token, what,
                        ckr_name(rv));
    }
    *val = a.pValue;
    *len = a.ulValueLen;
    return FWT_OK;
}

static fwt_err get_ulong(struct p11_sess *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                         const char *what, CK_ULONG *v)
{
    CK_ATTRIBUTE a = {type, v, sizeof(*v)};
    CK_RV rv = s->f->C_GetAttributeValue(s->h, o, &a, 1);
    if (rv != CKR_OK || a.ulValueLen != sizeof(*v)) {
        return fwt_fail(FWT_E_KEY, "token '%s': cannot read the key's %s (%s)", s->token, what,
                        ckr_name(rv));
    }
    return FWT_OK;
}

/* A CK_BBOOL attribute; *v = dflt when the token does not have it. */
static fwt_err get_bool(struct p11_sess *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                        const char *what, int dflt, int *v)
{
    CK_BBOOL b = CK_FALSE;
    CK_ATTRIBUTE a = {type, &b, sizeof(b)};
    CK_RV rv = s->f->C_GetAttributeValue(s->h, o, &a, 1);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID) {
        *v = dflt;
        return FWT_OK;
    }
    if (rv != CKR_OK || a.ulValueLen != sizeof(b)) {
        return fwt_fail(FWT_E_KEY, "token '%s': cannot read the key's %s (%s)", s->token, what,
                        ckr_name(rv));
    }
    *v = b == CK_TRUE;
    return FWT_OK;
}

/* ---- public keys ---- */

/* DER OBJECT IDENTIFIER for P-256, P-384, Ed25519; PrintableString "edwards25519". */
static const uint8_t k_oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t k_oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t k_oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t k_name_ed25519[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's',
                                         '2',  '5',  '5', '1', '9'};

/* Curve of CKA_EC_PARAMS: "P-256", "P-384", "ED25519", or NULL. */
static const char *curve_of(const uint8_t *p, size_t n)
{
    if (n == sizeof(k_name_ed25519) && memcmp(p, k_name_ed25519, n) == 0) {
        return "ED25519";
    }
    if (n < 2 || p[0] != 0x06) {
        return NULL;
    }
    const unsigned char *q = p;
    ASN1_OBJECT *obj = d2i_ASN1_OBJECT(NULL, &q, (long)n);
    if (obj == NULL || q != p + n) {
        ASN1_OBJECT_free(obj);
        ERR_clear_error();
        return NULL;
    }
    int nid = OBJ_obj2nid(obj);
    ASN1_OBJECT_free(obj);
    return nid == NID_X9_62_prime256v1 ? "P-256"
           : nid == NID_secp384r1      ? "P-384"
           : nid == NID_ED25519        ? "ED25519"
                                       : NULL;
}

/* The point in CKA_EC_POINT: want bytes, raw or in a DER OCTET STRING. */
static const uint8_t *unwrap_point(const uint8_t *b, size_t n, size_t want)
{
    if (n == want) {
        return b;
    }
    if (n < 2 || b[0] != 0x04) {
        return NULL;
    }
    size_t len, hdr;
    if (b[1] < 0x80) {
        len = b[1];
        hdr = 2;
    } else if (b[1] == 0x81 && n >= 3 && b[2] >= 0x80) {
        len = b[2];
        hdr = 3;
    } else {
        return NULL;
    }
    return (hdr + len == n && len == want) ? b + hdr : NULL;
}

static fwt_err pkey_fromdata(const char *alg, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    EVP_PKEY *pkey = NULL;
    fwt_err e = FWT_OK;
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        e = fwt_fail(FWT_E_KEY, "the token's %s public key is not valid: %s", alg, fwt_ossl_reason());
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    if (e == FWT_OK) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (c == NULL || EVP_PKEY_public_check(c) != 1) {
            e = fwt_fail(FWT_E_KEY, "the token's %s public key fails its check: %s", alg,
                         fwt_ossl_reason());
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        EVP_PKEY_CTX_free(c);
    }
    *out = pkey;
    return e;
}

/*
 * The public key of object o (a public key object, or a private key object
 * that carries its public parts). *raw_sig gets the raw signature length.
 */
static fwt_err export_public(struct p11_sess *s, CK_OBJECT_HANDLE o, CK_KEY_TYPE kt,
                             EVP_PKEY **out, size_t *raw_sig)
{
    *out = NULL;
    uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    fwt_err e;
    OSSL_PARAM_BLD *bld = NULL;
    if (kt == CKK_EC || kt == CKK_EC_EDWARDS) {
        e = get_attr(s, o, CKA_EC_PARAMS, "curve (CKA_EC_PARAMS)", &a, &al);
        if (e == FWT_OK) {
            e = get_attr(s, o, CKA_EC_POINT, "public point (CKA_EC_POINT)", &b, &bl);
        }
        if (e != FWT_OK) {
            goto done;
        }
        const char *curve = curve_of(a, al);
        int ed = curve != NULL && strcmp(curve, "ED25519") == 0;
        if (curve == NULL || (kt == CKK_EC_EDWARDS) != ed) {
            e = fwt_fail(FWT_E_KEY, "token '%s': the key's curve is not supported (P-256, P-384 "
                                    "and Ed25519 are)",
                         s->token);
            goto done;
        }
        size_t want = ed ? 32 : strcmp(curve, "P-256") == 0 ? 65 : 97;
        const uint8_t *pt = unwrap_point(b, bl, want);
        if (pt == NULL) {
            e = fwt_fail(FWT_E_KEY, "token '%s': the key's CKA_EC_POINT (%zu bytes) is not a "
                                    "%s public key",
                         s->token, bl, curve);
            goto done;
        }
        if (ed) {
            *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pt, 32);
            e = *out ? FWT_OK
                     : fwt_fail(FWT_E_KEY, "token '%s': bad Ed25519 public key: %s", s->token,
                                fwt_ossl_reason());
            *raw_sig = 64;
            goto done;
        }
        bld = OSSL_PARAM_BLD_new();
        if (bld == NULL ||
            !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, want)) {
            e = FWT_E_NOMEM;
            goto done;
        }
        e = pkey_fromdata("EC", bld, out);
        *raw_sig = want - 1; /* r || s, each the size of a coordinate */
    } else if (kt == CKK_RSA) {
        e = get_attr(s, o, CKA_MODULUS, "modulus (CKA_MODULUS)", &a, &al);
        if (e == FWT_OK) {
            e = get_attr(s, o, CKA_PUBLIC_EXPONENT, "public exponent", &b, &bl);
        }
        if (e != FWT_OK) {
            goto done;
        }
        BIGNUM *n = BN_bin2bn(a, (int)al, NULL), *x = BN_bin2bn(b, (int)bl, NULL);
        bld = OSSL_PARAM_BLD_new();
        if (n == NULL || x == NULL || bld == NULL ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, x)) {
            e = FWT_E_NOMEM;
        } else {
            e = pkey_fromdata("RSA", bld, out);
        }
        BN_free(n);
        BN_free(x);
        if (e == FWT_OK) {
            *raw_sig = (size_t)EVP_PKEY_get_size(*out);
        }
    } else {
        e = fwt_fail(FWT_E_KEY, "token '%s': key type 0x%lx is not supported (EC P-256/P-384, "
                                "Ed25519 and RSA 2048/3072 are)",
                     s->token, (unsigned long)kt);
    }
done:
    OSSL_PARAM_BLD_free(bld);
    free(a);
    free(b);
    return e;
}

/* ---- open / sign / close ---- */

struct fwt_p11_key {
    struct p11_sess s;
    CK_OBJECT_HANDLE priv;
    enum fwt_key_type type;
    size_t raw_sig;
    int always_auth;
    char pin[PIN_MAX + 1]; /* only for CKA_ALWAYS_AUTHENTICATE keys */
    size_t pin_len;
    char name[80]; /* object label for messages */
};

int fwt_p11_is_uri(const char *spec)
{
    return spec != NULL && strncasecmp(spec, "pkcs11:", 7) == 0;
}

fwt_err fwt_key_spec_check_inert(const char *spec)
{
    if (spec == NULL) {
        return fwt_fail(FWT_E_ARG, "no key named");
    }
    if (!fwt_p11_is_uri(spec)) {
        return FWT_OK;
    }
    struct fwt_p11_uri u;
    fwt_err e = fwt_p11_uri_parse(spec, &u);
    if (e != FWT_OK) {
        return e;
    }
    const char *attr = u.module_path != NULL   ? "module-path="
                       : u.module_name != NULL ? "module-name="
                       : u.pin_source != NULL  ? "pin-source="
                                               : NULL;
    fwt_p11_uri_free(&u);
    if (attr != NULL) {
        return fwt_fail(FWT_E_ARG, "the PKCS#11 URI carries %s (a module or PIN file)", attr);
    }
    return FWT_OK;
}

/* "object=LABEL" / "id=HEX" for messages. */
static void object_name(const struct fwt_p11_uri *u, char *buf, size_t cap)
{
    if (u->object != NULL) {
        snprintf(buf, cap, "object=%s", u->object);
    } else {
        char hex[2 * 16 + 1];
        size_t n = u->id_len > 16 ? 16 : u->id_len;
        fwt_hex_encode(u->id, n, hex);
        snprintf(buf, cap, "id=%s%s", hex, u->id_len > 16 ? "..." : "");
    }
}

fwt_err fwt_p11_open(const char *uri, const struct fwt_key_opts *opts, int want_private,
                     struct fwt_p11_key **out, EVP_PKEY **pub, enum fwt_key_type *type)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (uri == NULL || pub == NULL || type == NULL || (want_private && out == NULL)) {
        return FWT_E_ARG;
    }
    *pub = NULL;
    *type = FWT_KEY_NONE;
    struct fwt_p11_uri u;
    fwt_err e = fwt_p11_uri_parse(uri, &u);
    if (e != FWT_OK) {
        return e;
    }
    if (u.object == NULL && u.id == NULL) {
        fwt_p11_uri_free(&u);
        return fwt_fail(FWT_E_ARG, "the PKCS#11 URI names no key: add object=LABEL or id=");
    }
    if (want_private && u.type == FWT_P11_TYPE_PUBLIC) {
        fwt_p11_uri_free(&u);
        return fwt_fail(FWT_E_ARG, "type=public names a public key; signing needs the private "
                                   "key (type=private, or leave type= out)");
    }
    struct fwt_p11_key *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        fwt_p11_uri_free(&u);
        return FWT_E_NOMEM;
    }
    object_name(&u, k->name, sizeof(k->name));
    EVP_PKEY *pkey = NULL;
    uint8_t *pid = NULL;
    size_t pid_len = 0;
    e = sess_begin(&u, opts, 0, &k->s);
    if (e != FWT_OK) {
        goto fail;
    }
    e = sess_auth(&k->s, &u, opts, want_private, k->pin, &k->pin_len);
    if (e != FWT_OK) {
        goto fail;
    }
    struct p11_sess *s = &k->s;
    CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY, pub_cls = CKO_PUBLIC_KEY;
    CK_OBJECT_HANDLE pubh = CK_INVALID_HANDLE;
    size_t n_priv = 0, n_pub = 0;
    if (want_private || u.type != FWT_P11_TYPE_PUBLIC) {
        e = find_objects(s, &priv_cls, u.object, u.id, u.id_len, &k->priv, &n_priv);
        if (e != FWT_OK) {
            goto fail;
        }
        if (n_priv > 1) {
            e = fwt_fail(FWT_E_ARG, "token '%s' holds several private keys with %s; add id= to "
                                    "pick one",
                         s->token, k->name);
            goto fail;
        }
    }
    if (want_private && n_priv == 0) {
        e = fwt_fail(FWT_E_NOT_FOUND, "PKCS#11 object not found: token '%s' holds no private key "
                                      "with %s",
                     s->token, k->name);
        goto fail;
    }
    CK_KEY_TYPE kt = 0;
    if (n_priv == 1) {
        CK_ULONG v = 0;
        e = get_ulong(s, k->priv, CKA_KEY_TYPE, "type (CKA_KEY_TYPE)", &v);
        if (e != FWT_OK) {
            goto fail;
        }
        kt = v;
        e = get_attr(s, k->priv, CKA_ID, "id (CKA_ID)", &pid, &pid_len);
        if (e != FWT_OK) {
            goto fail;
        }
        int can_sign = 0;
        e = get_bool(s, k->priv, CKA_SIGN, "CKA_SIGN", 0, &can_sign);
        if (e == FWT_OK) {
            e = get_bool(s, k->priv, CKA_ALWAYS_AUTHENTICATE, "CKA_ALWAYS_AUTHENTICATE", 0,
                         &k->always_auth);
        }
        if (e != FWT_OK) {
            goto fail;
        }
        if (want_private && !can_sign) {
            e = fwt_fail(FWT_E_KEY, "token '%s': the key with %s may not sign (CKA_SIGN is "
                                    "false)",
                         s->token, k->name);
            goto fail;
        }
        /* Its public half: the public key object with the same CKA_ID (else the same label). */
        e = find_objects(s, &pub_cls, pid_len ? NULL : u.object, pid_len ? pid : NULL, pid_len,
                         &pubh, &n_pub);
    } else {
        e = find_objects(s, &pub_cls, u.object, u.id, u.id_len, &pubh, &n_pub);
    }
    if (e != FWT_OK) {
        goto fail;
    }
    if (n_pub > 1) {
        e = fwt_fail(FWT_E_ARG, "token '%s' holds several public keys for %s; add id= to pick "
                                "one",
                     s->token, k->name);
        goto fail;
    }
    CK_OBJECT_HANDLE from = pubh;
    if (n_pub == 1) {
        CK_ULONG v = 0;
        e = get_ulong(s, pubh, CKA_KEY_TYPE, "type (CKA_KEY_TYPE)", &v);
        if (e != FWT_OK) {
            goto fail;
        }
        if (n_priv == 1 && v != kt) {
            e = fwt_fail(FWT_E_KEY, "token '%s': the public and private keys with %s are of "
                                    "different types",
                         s->token, k->name);
            goto fail;
        }
        kt = v;
    } else if (n_priv == 1 && kt == CKK_RSA) {
        from = k->priv; /* an RSA private key object carries the modulus and exponent */
    } else {
        const char *hint = (!s->logged_in && (s->token_flags & CKF_LOGIN_REQUIRED))
                               ? " (objects may be hidden until you give the PIN)"
                               : "";
        e = fwt_fail(FWT_E_NOT_FOUND, "PKCS#11 object not found: token '%s' holds no public key "
                                      "with %s%s",
                     s->token, k->name, hint);
        goto fail;
    }
    e = export_public(s, from, kt, &pkey, &k->raw_sig);
    if (e != FWT_OK) {
        goto fail;
    }
    k->type = fwt_pkey_type(pkey);
    if (k->type == FWT_KEY_NONE) {
        e = fwt_fail(FWT_E_KEY, "token '%s': the key with %s is of an unsupported type or size "
                                "(%s)",
                     s->token, k->name, fwt_alg_names());
        goto fail;
    }
    free(pid);
    fwt_p11_uri_free(&u);
    *pub = pkey;
    *type = k->type;
    if (want_private) {
        if (!k->always_auth) {
            fwt_zeroize(k->pin, sizeof(k->pin));
            k->pin_len = 0;
        }
        *out = k;
    } else {
        fwt_p11_close(k);
    }
    return FWT_OK;
fail:
    free(pid);
    EVP_PKEY_free(pkey);
    fwt_p11_uri_free(&u);
    fwt_p11_close(k);
    return e;
}

/* raw r || s (2 * half bytes) to a DER ECDSA-Sig-Value. */
static fwt_err ecdsa_der(const uint8_t *raw, size_t half, uint8_t *sig, size_t *sig_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)half, NULL), *s = BN_bin2bn(raw + half, (int)half, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return FWT_E_NOMEM;
    }
    fwt_err e = FWT_OK;
    if (BN_is_zero(ECDSA_SIG_get0_r(es)) || BN_is_zero(ECDSA_SIG_get0_s(es))) {
        e = fwt_fail(FWT_E_CRYPTO, "the token returned an invalid ECDSA signature (r or s is 0)");
    } else {
        int dl = i2d_ECDSA_SIG(es, NULL);
        if (dl <= 0 || (size_t)dl > *sig_len) {
            e = fwt_fail(FWT_E_BUFFER, "signature buffer too small for the DER signature");
        } else {
            unsigned char *p = sig;
            if (i2d_ECDSA_SIG(es, &p) != dl) {
                e = fwt_fail(FWT_E_CRYPTO, "DER encoding of the signature failed");
            } else {
                *sig_len = (size_t)dl;
            }
        }
    }
    ECDSA_SIG_free(es);
    return e;
}

fwt_err fwt_p11_sign(struct fwt_p11_key *key, enum fwt_key_type type, const uint8_t *data,
                     size_t data_len, uint8_t *sig, size_t *sig_len)
{
    if (key == NULL || sig == NULL || sig_len == NULL || (data == NULL && data_len > 0)) {
        return FWT_E_ARG;
    }
    static const uint8_t empty[1] = {0};
    if (data == NULL) {
        data = empty;
    }
    if (type != key->type) {
        return fwt_fail(FWT_E_INTERNAL, "token key is %s, asked to sign as %s",
                        fwt_key_type_name(key->type), fwt_key_type_name(type));
    }
    struct p11_sess *s = &key->s;
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech = {0, NULL, 0};
    size_t want_in = 0;
    switch (type) {
    case FWT_KEY_ED25519:
        mech.mechanism = CKM_EDDSA;
        break;
    case FWT_KEY_ECDSA_P256:
    case FWT_KEY_ECDSA_P384:
        mech.mechanism = CKM_ECDSA;
        want_in = fwt_hash_by_alg(fwt_alg_by_key(type)->hash)->size; /* the key's digest */
        break;
    case FWT_KEY_RSA2048:
    case FWT_KEY_RSA3072:
        mech.mechanism = CKM_RSA_PKCS_PSS;
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof(pss);
        want_in = fwt_hash_by_alg(fwt_alg_by_key(type)->hash)->size;
        break;
    default:
        return fwt_fail(FWT_E_INTERNAL, "token key of unknown type");
    }
    /* A P-384 key also signs a 32-byte SHA-256 prehash (boot-key certificates, fwt_cert.h). */
    if (type == FWT_KEY_ECDSA_P384 && data_len == 32) {
        want_in = 32;
    }
    if (want_in != 0 && data_len != want_in) {
        return fwt_fail(FWT_E_ARG, "a %s token key signs a %zu-byte hash, not %zu bytes",
                        fwt_key_type_name(type), want_in, data_len);
    }
    if (data_len > (CK_ULONG)-1) {
        return fwt_fail(FWT_E_TOO_LARGE, "message too large for C_Sign");
    }
    if (type != FWT_KEY_ECDSA_P256 && type != FWT_KEY_ECDSA_P384 && *sig_len < key->raw_sig) {
        return fwt_fail(FWT_E_BUFFER, "signature buffer too small (%zu bytes, %zu needed)",
                        *sig_len, key->raw_sig);
    }
    CK_RV rv = s->f->C_SignInit(s->h, &mech, key->priv);
    if (rv == CKR_OK && key->always_auth) {
        if (key->pin_len == 0) {
            return fwt_fail(FWT_E_ARG, "token '%s': the key with %s needs the PIN for every "
                                       "signature: give --pin-file FILE or pin-source=FILE",
                            s->token, key->name);
        }
        rv = s->f->C_Login(s->h, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)key->pin, key->pin_len);
        if (rv != CKR_OK) {
            /* C_Sign with no buffer-size query ends the operation (it fails, not logged in). */
            CK_BYTE tmp[RAW_SIG_MAX];
            CK_ULONG tl = sizeof(tmp);
            (void)s->f->C_Sign(s->h, unconst(data), (CK_ULONG)data_len, tmp, &tl);
            return pin_error(s, rv);
        }
    }
    if (rv != CKR_OK) {
        if (rv == CKR_USER_NOT_LOGGED_IN) {
            return fwt_fail(FWT_E_ARG, "token '%s' needs its PIN to sign: give --pin-file FILE "
                                       "or pin-source=FILE in the URI",
                            s->token);
        }
        if (rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID) {
            return fwt_fail(FWT_E_KEY, "token '%s' cannot sign %s (%s)", s->token,
                            fwt_key_type_name(type), ckr_name(rv));
        }
        return fwt_fail(rv == CKR_KEY_FUNCTION_NOT_PERMITTED ? FWT_E_KEY : FWT_E_CRYPTO,
                        "token '%s': C_SignInit failed for the key with %s (%s)", s->token,
                        key->name, ckr_name(rv));
    }
    CK_BYTE raw[RAW_SIG_MAX];
    CK_ULONG rl = sizeof(raw);
    rv = s->f->C_Sign(s->h, unconst(data), (CK_ULONG)data_len, raw, &rl);
    if (rv != CKR_OK) {
        return fwt_fail(rv == CKR_USER_NOT_LOGGED_IN ? FWT_E_ARG : FWT_E_CRYPTO,
                        "token '%s': C_Sign failed for the key with %s (%s)", s->token, key->name,
                        ckr_name(rv));
    }
    if (rl != key->raw_sig) {
        return fwt_fail(FWT_E_CRYPTO, "token '%s' returned a %lu-byte %s signature; %zu bytes "
                                      "expected",
                        s->token, (unsigned long)rl, fwt_key_type_name(type), key->raw_sig);
    }
    if (type == FWT_KEY_ECDSA_P256 || type == FWT_KEY_ECDSA_P384) {
        return ecdsa_der(raw, rl / 2, sig, sig_len);
    }
    memcpy(sig, raw, rl);
    *sig_len = rl;
    return FWT_OK;
}

void fwt_p11_close(struct fwt_p11_key *key)
{
    if (key == NULL) {
        return;
    }
    if (key->s.mod != NULL) {
        sess_end(&key->s);
    }
    fwt_zeroize(key, sizeof(*key));
    free(key);
}

/* ---- keygen ---- */

fwt_err fwt_p11_keygen(enum fwt_key_type type, const char *uri, const struct fwt_key_opts *opts)
{
    struct fwt_p11_uri u;
    fwt_err e = fwt_p11_uri_parse(uri, &u);
    if (e != FWT_OK) {
        return e;
    }
    if (u.object == NULL) {
        fwt_p11_uri_free(&u);
        return fwt_fail(FWT_E_ARG, "keygen needs object=LABEL in the PKCS#11 URI (the label of "
                                   "the new key pair)");
    }
    if (u.type != FWT_P11_TYPE_ANY) {
        fwt_p11_uri_free(&u);
        return fwt_fail(FWT_E_ARG, "keygen makes a key pair: leave type= out of the URI");
    }
    CK_MECHANISM mech = {0, NULL, 0};
    CK_BYTE ec_params[16];
    CK_ULONG ec_params_len = 0, bits = 0;
    switch (type) {
    case FWT_KEY_ED25519:
        mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
        memcpy(ec_params, k_oid_ed25519, sizeof(k_oid_ed25519));
        ec_params_len = sizeof(k_oid_ed25519);
        break;
    case FWT_KEY_ECDSA_P256:
        mech.mechanism = CKM_EC_KEY_PAIR_GEN;
        memcpy(ec_params, k_oid_p256, sizeof(k_oid_p256));
        ec_params_len = sizeof(k_oid_p256);
        break;
    case FWT_KEY_ECDSA_P384:
        mech.mechanism = CKM_EC_KEY_PAIR_GEN;
        memcpy(ec_params, k_oid_p384, sizeof(k_oid_p384));
        ec_params_len = sizeof(k_oid_p384);
        break;
    case FWT_KEY_RSA2048:
    case FWT_KEY_RSA3072:
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        bits = fwt_alg_by_key(type)->mod_bits;
        break;
    default:
        fwt_p11_uri_free(&u);
        return fwt_fail(FWT_E_ARG, "unknown key type");
    }
    struct p11_sess s;
    char pin[PIN_MAX + 1];
    size_t pin_len = 0;
    CK_OBJECT_HANDLE pubh = CK_INVALID_HANDLE, privh = CK_INVALID_HANDLE;
    EVP_PKEY *pkey = NULL;
    uint8_t id[KEYGEN_ID_LEN];
    e = sess_begin(&u, opts, 1, &s);
    if (e != FWT_OK) {
        goto out_nosess;
    }
    e = sess_auth(&s, &u, opts, 1, pin, &pin_len);
    fwt_zeroize(pin, sizeof(pin));
    if (e != FWT_OK) {
        goto out;
    }
    if (!s.logged_in) {
        e = fwt_fail(FWT_E_ARG, "keygen needs the PIN of token '%s': give --pin-file FILE or "
                                "pin-source=FILE",
                     s.token);
        goto out;
    }
    /* Never overwrite or shadow a key: the label (and id) must be new. */
    size_t n = 0;
    e = find_objects(&s, NULL, u.object, NULL, 0, NULL, &n);
    if (e == FWT_OK && n > 0) {
        e = fwt_fail(FWT_E_ARG, "token '%s' already holds an object labelled '%s'; keys are "
                                "never overwritten: choose another object=",
                     s.token, u.object);
    }
    if (e == FWT_OK && u.id != NULL) {
        e = find_objects(&s, NULL, NULL, u.id, u.id_len, NULL, &n);
        if (e == FWT_OK && n > 0) {
            e = fwt_fail(FWT_E_ARG, "token '%s' already holds an object with that id=; choose "
                                    "another",
                         s.token);
        }
    }
    if (e != FWT_OK) {
        goto out;
    }
    const uint8_t *idp = u.id;
    size_t id_len = u.id_len;
    if (idp == NULL) {
        if (RAND_bytes(id, sizeof(id)) != 1) {
            e = fwt_fail(FWT_E_CRYPTO, "no random bytes for the key id: %s", fwt_ossl_reason());
            goto out;
        }
        idp = id;
        id_len = sizeof(id);
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_BYTE exp65537[] = {0x01, 0x00, 0x01};
    CK_ATTRIBUTE pub_t[10], priv_t[12];
    CK_ULONG np = 0, nq = 0;
    size_t label_len = strlen(u.object);
    pub_t[np++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
    pub_t[np++] = (CK_ATTRIBUTE){CKA_PRIVATE, &no, sizeof(no)};
    pub_t[np++] = (CK_ATTRIBUTE){CKA_VERIFY, &yes, sizeof(yes)};
    pub_t[np++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &no, sizeof(no)};
    pub_t[np++] = (CK_ATTRIBUTE){CKA_WRAP, &no, sizeof(no)};
    pub_t[np++] = (CK_ATTRIBUTE){CKA_LABEL, u.object, label_len};
    pub_t[np++] = (CK_ATTRIBUTE){CKA_ID, unconst(idp), id_len};
    priv_t[nq++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
    priv_t[nq++] = (CK_ATTRIBUTE){CKA_PRIVATE, &yes, sizeof(yes)};
    priv_t[nq++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof(yes)};
    priv_t[nq++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof(no)};
    priv_t[nq++] = (CK_ATTRIBUTE){CKA_SIGN, &yes, sizeof(yes)};
    priv_t[nq++] = (CK_ATTRIBUTE){CKA_DECRYPT, &no, sizeof(no)};
    priv_t[nq++] = (CK_ATTRIBUTE){CKA_UNWRAP, &no, sizeof(no)};
    priv_t[nq++] = (CK_ATTRIBUTE){CKA_DERIVE, &no, sizeof(no)};
    priv_t[nq++] = (CK_ATTRIBUTE){CKA_LABEL, u.object, label_len};
    priv_t[nq++] = (CK_ATTRIBUTE){CKA_ID, unconst(idp), id_len};
    if (bits != 0) {
        pub_t[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
        pub_t[np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exp65537, sizeof(exp65537)};
    } else {
        pub_t[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, ec_params, ec_params_len};
    }
    CK_RV rv = s.f->C_GenerateKeyPair(s.h, &mech, pub_t, np, priv_t, nq, &pubh, &privh);
    if (rv != CKR_OK) {
        pubh = privh = CK_INVALID_HANDLE;
        e = fwt_fail(FWT_E_KEY, "token '%s' could not generate a %s key pair (%s)", s.token,
                     fwt_key_type_name(type), ckr_name(rv));
        goto out;
    }
    /* Check what the token made: a non-extractable, sensitive, private token key of the type asked. */
    int extractable = 1, sensitive = 0, priv = 0, token = 0;
    e = get_bool(&s, privh, CKA_EXTRACTABLE, "CKA_EXTRACTABLE", 1, &extractable);
    if (e == FWT_OK) {
        e = get_bool(&s, privh, CKA_SENSITIVE, "CKA_SENSITIVE", 0, &sensitive);
    }
    if (e == FWT_OK) {
        e = get_bool(&s, privh, CKA_PRIVATE, "CKA_PRIVATE", 0, &priv);
    }
    if (e == FWT_OK) {
        e = get_bool(&s, privh, CKA_TOKEN, "CKA_TOKEN", 0, &token);
    }
    if (e == FWT_OK && (extractable || !sensitive || !priv || !token)) {
        e = fwt_fail(FWT_E_KEY, "token '%s' did not honour the key attributes (extractable %d, "
                                "sensitive %d, private %d, token %d); the key pair was deleted",
                     s.token, extractable, sensitive, priv, token);
    }
    if (e == FWT_OK) {
        size_t raw_sig = 0;
        e = export_public(&s, pubh,
                          type == FWT_KEY_ED25519                              ? CKK_EC_EDWARDS
                          : (type == FWT_KEY_RSA2048 || type == FWT_KEY_RSA3072) ? CKK_RSA
                                                                                  : CKK_EC,
                          &pkey, &raw_sig);
        if (e == FWT_OK && fwt_pkey_type(pkey) != type) {
            e = fwt_fail(FWT_E_KEY, "token '%s' generated a key of another type than %s; the "
                                    "key pair was deleted",
                         s.token, fwt_key_type_name(type));
        }
    }
    if (e != FWT_OK) {
        (void)s.f->C_DestroyObject(s.h, privh);
        (void)s.f->C_DestroyObject(s.h, pubh);
    }
out:
    sess_end(&s);
out_nosess:
    EVP_PKEY_free(pkey);
    fwt_zeroize(pin, sizeof(pin));
    fwt_p11_uri_free(&u);
    return e;
}

/* ---- decryption keys in a token (MCUboot's encrypted images) ---- */

/* CKA_ALWAYS_AUTHENTICATE keys: the PIN again before the operation. */
static fwt_err context_login(struct fwt_p11_key *key)
{
    struct p11_sess *s = &key->s;
    if (!key->always_auth) {
        return FWT_OK;
    }
    if (key->pin_len == 0) {
        return fwt_fail(FWT_E_ARG, "token '%s': the key with %s needs the PIN for every use: "
                        "give the PIN file", s->token, key->name);
    }
    CK_RV rv = s->f->C_Login(s->h, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)key->pin, key->pin_len);
    return rv == CKR_OK ? FWT_OK : pin_error(s, rv);
}

fwt_err fwt_p11_decrypt_oaep(struct fwt_p11_key *key, const uint8_t *in, size_t in_len,
                             uint8_t *out, size_t *out_len)
{
    if (!key || !in || !out || !out_len) {
        return FWT_E_ARG;
    }
    struct p11_sess *s = &key->s;
    if (key->type != FWT_KEY_RSA2048 && key->type != FWT_KEY_RSA3072) {
        return fwt_fail(FWT_E_KEY, "token key with %s is not an RSA key", key->name);
    }
    if (!s->f->C_DecryptInit || !s->f->C_Decrypt) {
        return fwt_fail(FWT_E_CRYPTO, "the PKCS#11 module lacks C_Decrypt");
    }
    CK_RSA_PKCS_OAEP_PARAMS p = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &p, sizeof(p)};
    CK_RV rv = s->f->C_DecryptInit(s->h, &mech, key->priv);
    fwt_err e = rv == CKR_OK ? context_login(key) : FWT_OK;
    if (rv != CKR_OK) {
        return fwt_fail(rv == CKR_KEY_FUNCTION_NOT_PERMITTED ? FWT_E_KEY : FWT_E_CRYPTO,
                        "token '%s': C_DecryptInit (RSA-OAEP) failed for the key with %s (%s)",
                        s->token, key->name, ckr_name(rv));
    }
    if (e != FWT_OK) {
        return e;
    }
    CK_BYTE buf[512];
    CK_ULONG bl = sizeof(buf);
    rv = s->f->C_Decrypt(s->h, unconst(in), (CK_ULONG)in_len, buf, &bl);
    if (rv != CKR_OK || bl > *out_len) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return fwt_fail(FWT_E_KEY, "token '%s': RSA-OAEP decryption with the key with %s failed "
                        "(%s): not the key this image was encrypted for, or an altered key TLV",
                        s->token, key->name, ckr_name(rv));
    }
    memcpy(out, buf, bl);
    *out_len = bl;
    OPENSSL_cleanse(buf, sizeof(buf));
    return FWT_OK;
}

fwt_err fwt_p11_ecdh(struct fwt_p11_key *key, const uint8_t *point, size_t point_len,
                     uint8_t *shared, size_t *shared_len)
{
    if (!key || !point || !shared || !shared_len) {
        return FWT_E_ARG;
    }
    struct p11_sess *s = &key->s;
    if (key->type != FWT_KEY_ECDSA_P256) {
        return fwt_fail(FWT_E_KEY, "token key with %s is not an EC P-256 key", key->name);
    }
    if (!s->f->C_DeriveKey) {
        return fwt_fail(FWT_E_CRYPTO, "the PKCS#11 module lacks C_DeriveKey");
    }
    CK_ECDH1_DERIVE_PARAMS p = {CKD_NULL, 0, NULL, (CK_ULONG)point_len, unconst(point)};
    CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ULONG vlen = 32;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},         {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &no, sizeof(no)},           {CKA_SENSITIVE, &no, sizeof(no)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)},   {CKA_VALUE_LEN, &vlen, sizeof(vlen)},
    };
    fwt_err e = context_login(key);
    if (e != FWT_OK) {
        return e;
    }
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = s->f->C_DeriveKey(s->h, &mech, key->priv, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
    if (rv != CKR_OK) {
        return fwt_fail(rv == CKR_KEY_FUNCTION_NOT_PERMITTED ? FWT_E_KEY : FWT_E_CRYPTO,
                        "token '%s': ECDH with the key with %s failed (%s)", s->token, key->name,
                        ckr_name(rv));
    }
    uint8_t *v = NULL;
    size_t vl = 0;
    e = get_attr(s, h, CKA_VALUE, "shared secret", &v, &vl);
    (void)s->f->C_DestroyObject(s->h, h); /* a session object: gone at the latest on close */
    if (e == FWT_OK && (vl != 32 || *shared_len < 32)) {
        e = fwt_fail(FWT_E_CRYPTO, "token '%s': a %zu-byte ECDH secret", s->token, vl);
    }
    if (e == FWT_OK) {
        memcpy(shared, v, 32);
        *shared_len = 32;
    }
    if (v) {
        OPENSSL_cleanse(v, vl);
        free(v);
    }
    return e;
}
