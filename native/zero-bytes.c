/*
 * isZero(bytes): whether every byte of a Uint8Array is 0, for the data writer's sparse-block test.
 *
 * Why: a block of zeros is read to its end, and JavaScript compares 4 bytes per loop turn; the
 * 186 zero blocks (128 KiB) of the large-200M bench file took about 5 ms of the main thread that
 * way. Here the words of each 256-byte stripe are OR-ed together, which the compiler turns into
 * vector instructions, and the loop stops at the first stripe that is not zero.
 */
#include <stdint.h>
#include <string.h>
#include <node_api.h>

#include "napi-bytes.h"
#include "zero-bytes.h"

#define STRIPE_WORDS 32

static int all_zero(const uint8_t *p, size_t n) {
  /* Byte by byte up to 8-byte alignment, then whole stripes, then the rest. */
  while (n > 0 && ((uintptr_t)p & 7) != 0) {
    if (*p != 0) return 0;
    p++, n--;
  }
  const uint64_t *w = (const uint64_t *)p;
  while (n >= STRIPE_WORDS * 8) {
    uint64_t acc = 0;
    for (int i = 0; i < STRIPE_WORDS; i++) acc |= w[i];
    if (acc != 0) return 0;
    w += STRIPE_WORDS;
    n -= STRIPE_WORDS * 8;
  }
  p = (const uint8_t *)w;
  for (size_t i = 0; i < n; i++) {
    if (p[i] != 0) return 0;
  }
  return 1;
}

static napi_value js_is_zero(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      !napi_uint8_bytes(env, argv[0], &data, &len)) {
    napi_throw_type_error(env, NULL, "isZero(bytes: Uint8Array)");
    return NULL;
  }
  napi_value result;
  napi_get_boolean(env, len == 0 || all_zero(data, len), &result);
  return result;
}

int zero_bytes_register(napi_env env, napi_value exports) {
  return napi_export_function(env, exports, "isZero", js_is_zero);
}
