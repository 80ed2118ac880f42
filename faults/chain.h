/* chain.h -- engine-side entry points of the stage machinery (used by proxy/conn.c). */
#ifndef FL_CHAIN_H
#define FL_CHAIN_H
#include "faults/fault.h"
struct pipe;
struct conn;
void chain_input(struct pipe *p, struct evbuffer *in);   /* bytes from src enter the chain */
void chain_eof(struct pipe *p);                          /* src finished */
struct stage *stage_new(struct conn *c, int dir, struct fault *f, int selected);
void stage_free(struct stage *st);
void stage_start(struct stage *st);   /* fault active + selected: begin acting */
void stage_end(struct stage *st);     /* fault ended or removed: on_end */
void fl_rand_seed(uint64_t seed);
#endif
