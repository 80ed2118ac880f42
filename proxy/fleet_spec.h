/* fleet_spec.h -- the [fleet] section of a profile: where the fleet's Redis is, the key that signs
 * fleet commands, and who this instance is (its id and labels). docs/fleet.md.
 *
 * What: plain data read and validated with the rest of the profile (so `faultline check` and
 * `serve` refuse a bad value with PATH:LINE), and the key file reader the daemon and `ctl
 * --fleet` share. Why here: the profile loader owns every section's validation; the fleet's
 * runtime (control/fleet*.c) only reads this struct. What not: nothing here connects to Redis
 * or signs anything (control/fleet_sign.c does).
 */
#ifndef FL_FLEET_SPEC_H
#define FL_FLEET_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include "common/inidoc.h"
#include "record/record.h"

#define FLEET_MAX_LABELS 32
#define FLEET_KEY_MIN 16          /* bytes of key material, at least */
#define FLEET_KEY_MAX 1024

struct fleet_label { char key[64], val[128]; };

struct fleet_spec {
    char redis[512];              /* the URL as written (redis://[USER:PASS@]HOST[:PORT][/DB] or unix:) */
    struct rec_url url;           /* parsed */
    char key_file[512];           /* the HMAC key; refused when group or world may read it */
    char id[128];                 /* "" = [faultline] instance, else HOSTNAME:PID */
    char name[64];                /* the fleet's name: its keys are faultline:fleet:NAME:... */
    struct fleet_label labels[FLEET_MAX_LABELS];   /* service, zone, version, label.K, in file order */
    int nlabels;
    int64_t max_lease_us;         /* a command's lease is capped to this (default 1 h) */
    int line;                     /* the section header's line */
};

/* Reads section s into f (f is cleared first). 0, or -1 with "PATH:LINE: reason". The key file
 * is checked here too (exists, mode, length), so `faultline check` finds a bad one. */
int fleet_spec_load(struct inidoc *d, struct inisec *s, struct fleet_spec *f, char *err, size_t errlen);

/* Reads the fleet key from path into key (FLEET_KEY_MAX bytes): the file's bytes with trailing
 * whitespace removed. Refused: missing, not a regular file, readable by group or others, fewer
 * than FLEET_KEY_MIN or more than FLEET_KEY_MAX bytes. 0 with *klen, or -1 with the reason. */
int fleet_key_read(const char *path, unsigned char *key, size_t *klen, char *err, size_t errlen);

/* A label key or value, an instance id: letters, digits and "-_.:/@" only, 1..n-1 bytes (they
 * are written in selectors "k=v,k=v" and in Redis key names). 1 if s is one. */
int fleet_word_ok(const char *s, size_t n);

/* The value of label key in f, or NULL. */
const char *fleet_label(const struct fleet_spec *f, const char *key);

#endif
