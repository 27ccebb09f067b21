/*
 * gate.c — see platform/gate.h.
 */
#include "platform/gate.h"

void sp_gate_init(sp_gate_t *gate, int max)
{
    atomic_store(&gate->used, 0);
    gate->max = max > 0 ? max : 0;
}

int sp_gate_enter(sp_gate_t *gate)
{
    if (gate->max == 0) {
        atomic_fetch_add(&gate->used, 1);
        return 1;
    }
    int used = atomic_load(&gate->used);
    do {
        if (used >= gate->max)
            return 0;
    } while (!atomic_compare_exchange_weak(&gate->used, &used, used + 1));
    return 1;
}

void sp_gate_leave(sp_gate_t *gate)
{
    atomic_fetch_sub(&gate->used, 1);
}

int sp_gate_used(sp_gate_t *gate)
{
    return atomic_load(&gate->used);
}
