/* common/text.h -- text that leaves the process: secrets redacted, long values clipped, any bytes
 * written as a JSON string.
 *
 * faultline writes what it was told and what peers sent into places other people read: the
 * record (Redis, record.json), the run's journal and report, logs. Three rules keep that safe,
 * and this file is where they live, so every writer applies the same ones:
 *
 *   - Secrets never leave (docs/security.md, "Secrets"). A URL's password becomes `***`
 *     (`redis://:***@host`, `redis://bob:***@host`, `...?password=***`), a command line becomes
 *     its program name and a hash of the whole line (`curl …#1a2b3c4d`: two runs can still be
 *     told apart, the arguments cannot be read), and a profile or scenario text keeps its shape
 *     with admin_token, passwords, `load =` and `[action] run =` replaced.
 *   - A recorded text field is at most FL_CLIP_MAX bytes: longer ones keep their first
 *     FL_CLIP_KEEP bytes (cut at a character boundary) and a hash of the whole value
 *     (`/a/very/long/path…#1a2b3c4d`), so equal values still compare equal and the record of a
 *     hostile peer's 64 KiB path costs 268 bytes.
 *   - JSON strings are written from any bytes: control bytes and bytes that are not well-formed
 *     UTF-8 are escaped as \u00XX (as the logs do), so a file always parses.
 *
 * What this is not: a general URL or INI parser. The redactors look for the shapes secrets take
 * in faultline's own inputs (userinfo passwords, `password=` parameters, the keys named above)
 * and leave everything else as it is. Nothing here allocates except fl_redact_profile.
 */
#ifndef FL_TEXT_H
#define FL_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- UTF-8 ---- */
/* Length of the well-formed UTF-8 sequence at p (1..4) within avail bytes, or 0 when the byte
 * at p does not start one (a stray continuation byte, an overlong form, a surrogate, a cut
 * sequence). */
int fl_utf8_len(const unsigned char *p, size_t avail);

/* in as text safe for a terminal, into out (n bytes, NUL-terminated, cut at a character): well-
 * formed UTF-8 is kept, except control characters (C0, DEL, C1: escape sequences), which become
 * '?', as does every byte of a malformed sequence. For values read from a record that anyone
 * who can write to its Redis may have filled. */
void fl_printable(const char *in, char *out, size_t n);

/* The first n bytes of s onto f the same way (a tab is kept): for text that quotes a record. */
void fl_put_printable(FILE *f, const char *s, size_t n);

/* ---- clipping ---- */
#define FL_CLIP_KEEP 256                  /* bytes of a long value kept */
#define FL_CLIP_MAX (FL_CLIP_KEEP + 12)   /* + "…#" (4 bytes) + 8 hex digits */
/* FNV-1a 32 of n bytes: the hash a clipped value ends with. */
uint32_t fl_hash32(const char *s, size_t n);
/* s (n bytes) as recorded: itself when n <= FL_CLIP_MAX, else its first FL_CLIP_KEEP bytes (less,
 * to end on a character boundary) followed by "…#xxxxxxxx". out needs FL_CLIP_MAX + 1 bytes;
 * NUL-terminated. Returns the length written; *clipped (may be NULL) says whether it was cut.
 * Clipping a clipped value changes nothing. */
size_t fl_clip(const char *s, size_t n, char out[FL_CLIP_MAX + 1], int *clipped);

/* ---- redaction ---- */
#define FL_REDACTED "***"
/* in with every URL password (scheme://USER:PASSWORD@...) and every password=VALUE parameter
 * (URL query, libpq key=value DSN) replaced by ***; the rest as it is. Truncated to n - 1
 * bytes; NUL-terminated. */
void fl_redact_url(const char *in, char *out, size_t n);
/* A shell command line as shown to others: its program name (the first word after any leading
 * NAME=VALUE assignments), then " …#" and the FNV-1a 32 hash of the whole line in hex. "" for
 * an empty line. out: n bytes, NUL-terminated. */
void fl_redact_cmd(const char *cmd, char *out, size_t n);
/* A profile or scenario text (INI) with its secrets replaced: the values of admin_token and of
 * keys named *password*, *secret* or *_token become ***, [scenario] load and [action] run become
 * fl_redact_cmd's form, and every other value goes through fl_redact_url. Lines, sections,
 * keys and comments stay where they are. malloc'd (the caller frees); never NULL. */
char *fl_redact_profile(const char *text);

/* ---- JSON ---- */
/* Writes s (n bytes, any bytes) to f as a JSON string, quotes included. */
void fl_json_str(FILE *f, const char *s, size_t n);

#endif
