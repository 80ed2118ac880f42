/* log.h -- structured log lines on stderr, logfmt or JSON.
 *
 * A line is an event name plus key=value pairs: log_info("reload", "proxies=%d faults=%d", 2, 1).
 * The format string produces logfmt pairs; values that may hold spaces or quotes go through
 * log_q() (quoted, escaped). In JSON mode the same pairs become one JSON object per line, so
 * call sites never care which format is on. Levels below the configured one cost one compare.
 */
#ifndef FL_LOG_H
#define FL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_LOGFMT = 0, LOG_JSON };

extern enum log_level log_min_level;

void log_setup(enum log_level lvl, enum log_format fmt);
int log_level_parse(const char *s, enum log_level *out);
int log_format_parse(const char *s, enum log_format *out);

void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Quotes s for a logfmt value when it needs it. Uses one of 4 rotating static buffers, so up
 * to 4 calls may appear in one log_event() argument list. */
const char *log_q(const char *s);

#define log_debug(ev, ...) do { if (log_min_level <= LOG_DEBUG) log_event(LOG_DEBUG, ev, __VA_ARGS__); } while (0)
#define log_info(ev, ...)  do { if (log_min_level <= LOG_INFO)  log_event(LOG_INFO, ev, __VA_ARGS__); } while (0)
#define log_warn(ev, ...)  log_event(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(LOG_ERROR, ev, __VA_ARGS__)

#endif
