/* inidoc.h -- an INI file read into memory with the line of every section and key.
 *
 * Debian's inih (r55) calls its handler without a line number and caps lines at 200 bytes, so
 * inidoc feeds inih through ini_parse_stream with its own line reader: the reader counts lines
 * (the handler runs for the line the reader returned last), remembers where each [section]
 * header stands, strips comments and indentation itself (so only content counts against the
 * limit), and turns a line whose content is over 199 characters into an error instead of a
 * silent split. Comments: a line starting with ';' or '#', and inline after a space or tab
 * ("key = value  ; why", "key = value  # why"). A line that is not [section] / key = value is
 * an error naming the line; so is a key given twice in one section when its consumer reads it
 * as one value (inisec_get), reported by inisec_check_unused. Keys a consumer reads by walking
 * the section (a fault's repeatable `header`) may repeat.
 *
 * Profiles, scenarios and expectation files are all inidocs; each consumer walks the sections
 * and reports errors as "PATH:LINE: reason" through inidoc_err().
 */
#ifndef FL_INIDOC_H
#define FL_INIDOC_H

#include <stddef.h>

struct inikey {
    char *key, *value;
    int line;
    int used;           /* set by consumers; unused keys are reported as unknown */
    int single;         /* read as one value (inisec_get): given twice, it is an error */
};

struct inisec {
    char *type;         /* "proxy" in "[proxy payments]", "faultline" in "[faultline]" */
    char *name;         /* "payments", or "" */
    int line;
    struct inikey *keys;
    int nkeys;
};

struct inidoc {
    char path[512];
    struct inisec *secs;
    int nsecs;
};

/* Parses text (NUL-terminated) as the contents of path (used in messages only). Returns a doc
 * owned by the caller (inidoc_free), or NULL with "PATH:LINE: reason" in err. */
struct inidoc *inidoc_parse(const char *path, const char *text, char *err, size_t errlen);

/* Reads and parses a file. NULL with the reason in err. *text_out, if given, receives the file
 * text (caller frees). */
struct inidoc *inidoc_load(const char *path, char **text_out, char *err, size_t errlen);

void inidoc_free(struct inidoc *d);

/* The last value of key in section s (marking it used), or NULL. *line gets its line. */
const char *inisec_get(struct inisec *s, const char *key, int *line);

/* Formats "PATH:LINE: " + message into err. Always returns -1. */
int inidoc_err(const struct inidoc *d, int line, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Reports a key read with inisec_get but given twice ("PATH:LINE: duplicate key 'k' in [type
 * name] (first at line N)", the second line), else the first key of s not marked used:
 * "PATH:LINE: unknown key 'k' in [type name]". */
int inisec_check_unused(const struct inidoc *d, const struct inisec *s, char *err, size_t errlen);

/* The total of a text's lines, for "read N lines" messages. */
int inidoc_text_lines(const char *text);

#endif
