/* copyBytes of copy-bytes.c: memmove between Uint8Arrays, shared memory included. */
#ifndef TSQUASHFS_COPY_BYTES_H
#define TSQUASHFS_COPY_BYTES_H
#include <node_api.h>

/* Adds copyBytes to `exports`; 0 on failure. */
int copy_bytes_register(napi_env env, napi_value exports);
#endif
