/*
 * gate.h — a bound on how many of one kind of work run at once, refused
 * rather than queued when full.
 *
 * Work that is expensive and can be flooded from outside (password hashing,
 * logins holding an HTTP thread) takes a slot before it starts and gives it
 * back when it ends; when every slot is taken the caller sheds the work at
 * once (503 + Retry-After) instead of letting a queue grow or other work
 * starve. Lock-free; safe from any thread. Embed it and initialise it with
 * SP_GATE_INIT(max) or sp_gate_init.
 */
#ifndef SP_GATE_H
#define SP_GATE_H

#include <stdatomic.h>

typedef struct {
    atomic_int used; /* slots taken now */
    int max;         /* 0 = no bound */
} sp_gate_t;

#define SP_GATE_INIT(n)                                                                            \
    {                                                                                              \
        0, (n)                                                                                     \
    }

/* Sets the bound (0 = none); call before the gate is shared. */
void sp_gate_init(sp_gate_t *gate, int max);

/* 1 when a slot was taken (give it back with sp_gate_leave), 0 when all are
 * taken. */
int sp_gate_enter(sp_gate_t *gate);

/* Gives back a slot taken by sp_gate_enter. */
void sp_gate_leave(sp_gate_t *gate);

/* Slots taken now (for metrics). */
int sp_gate_used(sp_gate_t *gate);

#endif
