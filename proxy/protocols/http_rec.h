/* http_rec.h -- what http mode tells the recorder per request: rec_request_start() and
 * rec_request() with struct rec_request, declared in record.h (the recorder's contract). */
#ifndef FL_HTTP_REC_H
#define FL_HTTP_REC_H
#include <stddef.h>
#include "record/record.h"
#endif
