/* Small N-API helpers shared by the addon's source files: Uint8Array bytes, threadpool jobs. */
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

/* Queues `data` as async work named `name` on libuv's threadpool; 1 on success. */
static inline int napi_queue_job(napi_env env, const char *name, napi_async_execute_callback execute,
                                 napi_async_complete_callback complete, void *data,
                                 napi_async_work *work) {
  napi_value n;
  return napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &n) == napi_ok &&
         napi_create_async_work(env, NULL, n, execute, complete, data, work) == napi_ok &&
         napi_queue_async_work(env, *work) == napi_ok;
}

/* Adds the function `fn` to `exports` as `name`; 1 on success. */
static inline int napi_export_function(napi_env env, napi_value exports, const char *name,
                                       napi_callback fn) {
  napi_value f;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f) == napi_ok &&
         napi_set_named_property(env, exports, name, f) == napi_ok;
}

#endif
