/* fleet_spec.c -- the [fleet] section: validation and the key file. See fleet_spec.h.
 *
 * Keys: redis (required), key_file (required), id, name, service, zone, version, label.K,
 * max_lease. Values that end up in selectors and Redis key names are restricted to a safe
 * alphabet (fleet_word_ok) so that a selector "service=a,zone=b" can never be ambiguous.
 */
#include "proxy/fleet_spec.h"
#include "common/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYERR(line, ...) inidoc_err(d, line, err, errlen, __VA_ARGS__)

int fleet_word_ok(const char *s, size_t n)
{
    size_t l = strlen(s);
    if (!l || l >= n) return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@") == l;
}

const char *fleet_label(const struct fleet_spec *f, const char *key)
{
    for (int i = 0; i < f->nlabels; i++)
        if (!strcmp(f->labels[i].key, key)) return f->labels[i].val;
    return NULL;
}

int fleet_key_read(const char *path, unsigned char *key, size_t *klen, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (st.st_mode & 077) {
        close(fd);
        snprintf(err, errlen, "%s: readable by group or others (mode %03o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
    unsigned char buf[FLEET_KEY_MAX + 2];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t')) n--;
    if (n > FLEET_KEY_MAX) { snprintf(err, errlen, "%s: longer than %d bytes", path, FLEET_KEY_MAX); return -1; }
    if (n < FLEET_KEY_MIN) {
        snprintf(err, errlen, "%s: %zd bytes of key; at least %d (openssl rand -hex 32 > FILE)", path, n, FLEET_KEY_MIN);
        return -1;
    }
    memcpy(key, buf, (size_t)n);
    *klen = (size_t)n;
    return 0;
}

static int add_label(struct inidoc *d, struct fleet_spec *f, const char *k, const char *v, int line, char *err,
                     size_t errlen)
{
    if (!fleet_word_ok(k, sizeof(f->labels[0].key)))
        return KEYERR(line, "label.%s: a label name holds letters, digits and -_.:/@ only (at most 63)", k);
    if (!fleet_word_ok(v, sizeof(f->labels[0].val)))
        return KEYERR(line, "%s%s: '%s' is not a label value (letters, digits and -_.:/@ only, 1..127)",
                      strcmp(k, "service") && strcmp(k, "zone") && strcmp(k, "version") ? "label." : "", k, v);
    if (!strcmp(k, "id")) return KEYERR(line, "label.id: 'id' is the instance id (key id), not a label");
    for (int i = 0; i < f->nlabels; i++)
        if (!strcmp(f->labels[i].key, k)) return KEYERR(line, "label %s is given twice", k);
    if (f->nlabels == FLEET_MAX_LABELS) return KEYERR(line, "more than %d labels", FLEET_MAX_LABELS);
    snprintf(f->labels[f->nlabels].key, sizeof(f->labels[0].key), "%s", k);
    snprintf(f->labels[f->nlabels].val, sizeof(f->labels[0].val), "%s", v);
    f->nlabels++;
    return 0;
}

int fleet_spec_load(struct inidoc *d, struct inisec *s, struct fleet_spec *f, char *err, size_t errlen)
{
    char e[400];
    int line;
    const char *v;
    memset(f, 0, sizeof(*f));
    f->line = s->line;
    snprintf(f->name, sizeof(f->name), "default");
    f->max_lease_us = 3600LL * 1000000;
    if (s->name[0]) return KEYERR(s->line, "[fleet] takes no name");
    for (int i = 0; i < s->nkeys; i++) {
        struct inikey *k = &s->keys[i];
        const char *lk = NULL;
        if (!strncmp(k->key, "label.", 6)) lk = k->key + 6;
        else if (!strcmp(k->key, "service") || !strcmp(k->key, "zone") || !strcmp(k->key, "version")) lk = k->key;
        if (!lk) continue;
        k->used = 1;
        if (add_label(d, f, lk, k->value, k->line, err, errlen) < 0) return -1;
    }
    if ((v = inisec_get(s, "redis", &line))) {
        if (!strncmp(v, "rediss://", 9))
            return KEYERR(line, "redis: rediss:// (TLS to Redis) is not supported; use redis:// or unix: (docs/fleet.md)");
        if (strlen(v) >= sizeof(f->redis)) return KEYERR(line, "redis: too long");
        if (rec_url_parse(v, &f->url, e, sizeof(e)) < 0) return KEYERR(line, "redis: %s", e);
        snprintf(f->redis, sizeof(f->redis), "%s", v);
    }
    int kline = 0;
    if ((v = inisec_get(s, "key_file", &kline))) {
        unsigned char key[FLEET_KEY_MAX];
        size_t kl;
        if (fleet_key_read(v, key, &kl, e, sizeof(e)) < 0) return KEYERR(kline, "key_file: %s", e);
        memset(key, 0, sizeof(key));
        snprintf(f->key_file, sizeof(f->key_file), "%s", v);
    }
    if ((v = inisec_get(s, "id", &line))) {
        if (!fleet_word_ok(v, sizeof(f->id))) return KEYERR(line, "id: '%s' holds letters, digits and -_.:/@ only (at most 127)", v);
        snprintf(f->id, sizeof(f->id), "%s", v);
    }
    if ((v = inisec_get(s, "name", &line))) {
        if (!fleet_word_ok(v, sizeof(f->name))) return KEYERR(line, "name: '%s' holds letters, digits and -_.:/@ only (at most 63)", v);
        snprintf(f->name, sizeof(f->name), "%s", v);
    }
    if ((v = inisec_get(s, "max_lease", &line))) {
        if (parse_duration(v, &f->max_lease_us, e, sizeof(e)) < 0) return KEYERR(line, "max_lease: %s", e);
        if (f->max_lease_us < 1000000) return KEYERR(line, "max_lease: at least 1s");
    }
    if (inisec_check_unused(d, s, err, errlen) < 0) return -1;
    if (!f->redis[0]) return KEYERR(s->line, "[fleet] is missing 'redis' (redis://HOST:PORT of the fleet's Redis)");
    if (!f->key_file[0]) return KEYERR(s->line, "[fleet] is missing 'key_file' (the fleet's HMAC key, mode 0600)");
    return 0;
}
