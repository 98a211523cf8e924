/* The bytes of a Uint8Array (or Buffer) argument: shared by the addon's source files. */
#ifndef TSQUASHFS_NAPI_BYTES_H
#define TSQUASHFS_NAPI_BYTES_H

#include <node_api.h>
#include <stddef.h>

/* 1 with *data and *len set when v is a Uint8Array, else 0. */
static inline int napi_uint8_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  return napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) == napi_ok &&
         type == napi_uint8_array;
}

#endif
