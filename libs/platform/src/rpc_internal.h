/*
 * rpc_internal.h — private to libs/platform/src/rpc*.c.
 */
#ifndef SP_RPC_INTERNAL_H
#define SP_RPC_INTERNAL_H

/* Initialises czmq once per process with its signal handling switched off
 * (signals belong to the service). Safe from any thread, any number of
 * times; the RPC client and server call it before creating sockets. */
void sp_rpc_zsys_setup(void);

#endif
