/* XXH64 of xxh64.c: a streaming 64-bit hash whose state is a caller-owned byte array. */
#ifndef TSQUASHFS_XXH64_H
#define TSQUASHFS_XXH64_H
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>

#define XXH64_STATE_BYTES 80

void xxh64_update(uint8_t *state, const uint8_t *data, size_t len);
uint64_t xxh64_digest(const uint8_t *state);
/* Adds xxh64Update, xxh64Digest and xxh64StateBytes to `exports`; 0 on failure. */
int xxh64_register(napi_env env, napi_value exports);
#endif
