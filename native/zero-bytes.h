/* isZero of zero-bytes.c: whether a Uint8Array holds only zero bytes. */
#ifndef TSQUASHFS_ZERO_BYTES_H
#define TSQUASHFS_ZERO_BYTES_H
#include <node_api.h>

/* Adds isZero to `exports`; 0 on failure. */
int zero_bytes_register(napi_env env, napi_value exports);
#endif
