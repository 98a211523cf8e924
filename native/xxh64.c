/*
 * XXH64 (the 64-bit xxHash, seed 0), written from the algorithm's public specification, for the
 * data writer's duplicate detection: the same values as xxhash-wasm's h64, at memory speed
 * instead of the ~0.8 GB/s that the wasm build reaches once its copy into wasm memory is counted.
 *
 * The running state lives in a small Uint8Array owned by JavaScript (XXH64_STATE_BYTES), so the
 * addon keeps nothing between calls and is safe in any thread. A zeroed state is a fresh one:
 * while nothing has been absorbed the accumulators are (re)set to their seed values.
 */
#include <stdint.h>
#include <string.h>
#include <node_api.h>

#include "napi-bytes.h"
#include "xxh64.h"

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

typedef struct {
  uint64_t total;
  uint64_t acc[4];
  uint8_t pending[32];
  uint32_t pending_len;
  uint32_t unused;
} xxh64_state;

_Static_assert(sizeof(xxh64_state) == XXH64_STATE_BYTES, "state size is part of the JS API");

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* Little-endian loads whatever the host's byte order; compilers turn these into plain loads. */
static inline uint64_t le64(const uint8_t *p) {
  return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
         (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
         (uint64_t)p[7] << 56;
}
static inline uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t round64(uint64_t acc, uint64_t lane) {
  acc += lane * P2;
  return rotl(acc, 31) * P1;
}

static inline uint64_t merge(uint64_t h, uint64_t acc) {
  h ^= round64(0, acc);
  return h * P1 + P4;
}

/* Absorbs whole 32-byte stripes from `p`; returns how many bytes it took. */
static size_t stripes(uint64_t acc[4], const uint8_t *p, size_t len) {
  size_t n = len & ~(size_t)31;
  uint64_t a = acc[0], b = acc[1], c = acc[2], d = acc[3];
  for (size_t i = 0; i < n; i += 32) {
    a = round64(a, le64(p + i));
    b = round64(b, le64(p + i + 8));
    c = round64(c, le64(p + i + 16));
    d = round64(d, le64(p + i + 24));
  }
  acc[0] = a, acc[1] = b, acc[2] = c, acc[3] = d;
  return n;
}

void xxh64_update(uint8_t *state_bytes, const uint8_t *p, size_t len) {
  xxh64_state s;
  memcpy(&s, state_bytes, sizeof s);
  if (s.total == 0) {
    s.acc[0] = P1 + P2;
    s.acc[1] = P2;
    s.acc[2] = 0;
    s.acc[3] = (uint64_t)0 - P1;
    s.pending_len = 0;
  }
  s.total += len;
  if (s.pending_len > 0) {
    size_t take = 32 - s.pending_len;
    if (take > len) take = len;
    memcpy(s.pending + s.pending_len, p, take);
    s.pending_len += (uint32_t)take;
    p += take;
    len -= take;
    if (s.pending_len < 32) goto done;
    stripes(s.acc, s.pending, 32);
    s.pending_len = 0;
  }
  size_t used = stripes(s.acc, p, len);
  memcpy(s.pending, p + used, len - used);
  s.pending_len = (uint32_t)(len - used);
done:
  memcpy(state_bytes, &s, sizeof s);
}

uint64_t xxh64_digest(const uint8_t *state_bytes) {
  xxh64_state s;
  memcpy(&s, state_bytes, sizeof s);
  uint64_t h;
  if (s.total >= 32) {
    h = rotl(s.acc[0], 1) + rotl(s.acc[1], 7) + rotl(s.acc[2], 12) + rotl(s.acc[3], 18);
    for (int i = 0; i < 4; i++) h = merge(h, s.acc[i]);
  } else {
    h = P5;
  }
  h += s.total;
  const uint8_t *p = s.pending;
  size_t left = s.pending_len;
  for (; left >= 8; p += 8, left -= 8) h = rotl(h ^ round64(0, le64(p)), 27) * P1 + P4;
  if (left >= 4) {
    h = rotl(h ^ (uint64_t)le32(p) * P1, 23) * P2 + P3;
    p += 4;
    left -= 4;
  }
  for (; left > 0; p++, left--) h = rotl(h ^ *p * P5, 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

/* ---- N-API ---- */

static int get_u8(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  return napi_uint8_bytes(env, v, (void **)data, len);
}

/* xxh64Update(state: Uint8Array(XXH64_STATE_BYTES), data: Uint8Array): undefined */
static napi_value js_update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint8_t *state, *data;
  size_t state_len, len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || !get_u8(env, argv[0], &state, &state_len) || state_len != XXH64_STATE_BYTES ||
      !get_u8(env, argv[1], &data, &len)) {
    napi_throw_type_error(env, NULL, "xxh64Update(state: Uint8Array(80), data: Uint8Array)");
    return NULL;
  }
  xxh64_update(state, data, len);
  return NULL;
}

/* xxh64Digest(state: Uint8Array(XXH64_STATE_BYTES)): bigint (the state is left as it was) */
static napi_value js_digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  uint8_t *state;
  size_t state_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || !get_u8(env, argv[0], &state, &state_len) || state_len != XXH64_STATE_BYTES) {
    napi_throw_type_error(env, NULL, "xxh64Digest(state: Uint8Array(80))");
    return NULL;
  }
  if (napi_create_bigint_uint64(env, xxh64_digest(state), &result) != napi_ok) return NULL;
  return result;
}

/*
 * xxh64Words(data: Uint8Array, out: Uint32Array(2)): the hash of `data` in one call, its high
 * 32 bits in out[0] and its low ones in out[1]. No state object and no BigInt: for a small file,
 * those cost more than hashing its few KiB.
 */
static napi_value js_words(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], ab;
  uint8_t *data;
  size_t len, out_len, out_offset;
  void *out_data;
  napi_typedarray_type type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || !get_u8(env, argv[0], &data, &len) ||
      napi_get_typedarray_info(env, argv[1], &type, &out_len, &out_data, &ab, &out_offset) !=
          napi_ok ||
      type != napi_uint32_array || out_len < 2) {
    napi_throw_type_error(env, NULL, "xxh64Words(data: Uint8Array, out: Uint32Array(2))");
    return NULL;
  }
  uint8_t state[XXH64_STATE_BYTES] = {0};
  xxh64_update(state, data, len);
  uint64_t h = xxh64_digest(state);
  uint32_t *out = out_data;
  out[0] = (uint32_t)(h >> 32);
  out[1] = (uint32_t)h;
  return NULL;
}

int xxh64_register(napi_env env, napi_value exports) {
  napi_value fn, size;
  return napi_create_function(env, "xxh64Update", NAPI_AUTO_LENGTH, js_update, NULL, &fn) ==
             napi_ok &&
         napi_set_named_property(env, exports, "xxh64Update", fn) == napi_ok &&
         napi_create_function(env, "xxh64Digest", NAPI_AUTO_LENGTH, js_digest, NULL, &fn) ==
             napi_ok &&
         napi_set_named_property(env, exports, "xxh64Digest", fn) == napi_ok &&
         napi_create_function(env, "xxh64Words", NAPI_AUTO_LENGTH, js_words, NULL, &fn) ==
             napi_ok &&
         napi_set_named_property(env, exports, "xxh64Words", fn) == napi_ok &&
         napi_create_uint32(env, XXH64_STATE_BYTES, &size) == napi_ok &&
         napi_set_named_property(env, exports, "xxh64StateBytes", size) == napi_ok;
}
