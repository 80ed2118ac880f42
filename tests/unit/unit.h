/* unit.h -- a tiny unit-test runner. Each tests/unit/test_*.c defines cases with
 *   UNIT(name) { EXPECT(cond); EXPECT_EQ_INT(a, b); EXPECT_STR(a, b); }
 * Cases register themselves (constructor attribute), so adding a file needs no other edit.
 * Output: "ok name" / "not ok name # file:line: what", counted by tests/run.sh. */
#ifndef FL_UNIT_H
#define FL_UNIT_H
#include <stdio.h>
#include <string.h>

typedef void (*unit_fn)(int *failed);
void unit_register(const char *name, unit_fn fn);

#define UNIT(name)                                                              \
    static void unit_##name(int *unit_failed_);                                 \
    __attribute__((constructor)) static void unit_reg_##name(void)              \
    { unit_register(#name, unit_##name); }                                      \
    static void unit_##name(int *unit_failed_)

#define EXPECT(c) do { if (!(c)) { printf("# %s:%d: expected %s\n", __FILE__, __LINE__, #c); *unit_failed_ = 1; } } while (0)
#define EXPECT_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { printf("# %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, a_, b_); *unit_failed_ = 1; } } while (0)
#define EXPECT_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
    if (!a_ || !b_ || strcmp(a_, b_)) { printf("# %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); *unit_failed_ = 1; } } while (0)
#define EXPECT_CONTAINS(hay, needle) do { const char *h_ = (hay), *n_ = (needle); \
    if (!h_ || !strstr(h_, n_)) { printf("# %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, h_ ? h_ : "(null)", n_); *unit_failed_ = 1; } } while (0)
#endif
