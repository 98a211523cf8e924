/*
 * tsquashfs_native: the system's own zlib, called the way mksquashfs 4.5.1 calls it
 * (gzip_wrapper.c: deflateInit2 + deflate(Z_FINISH)). Same library, same calls, so the same bytes
 * as mksquashfs on this machine, at native speed.
 *
 * libz is opened with dlopen(RTLD_LOCAL | RTLD_DEEPBIND) instead of being linked: the node
 * executable exports its own zlib (Chromium's fork, different output) under the same symbol
 * names, and a normally linked libz would have its calls (and its own internal calls between
 * exported functions) bound to node's copy. DEEPBIND makes the opened library resolve its own
 * symbols first. No development headers are needed: the ABI-stable z_stream is declared here.
 * Where dlopen or DEEPBIND is missing (not glibc), zlibVersion is null and tsquashfs uses pako.
 *
 * It also offers libdeflate (libdeflate.so.0, when installed) for gzip.ts's opt-in 'libdeflate'
 * engine: other bytes than zlib's, smaller and faster at level 9.
 *
 * It also encodes xz blocks with the system liblzma's lzma_stream_buffer_encode (xz-encode.c):
 * the encoder itself runs at lzma-native's speed (rebuilt with -O2), but the call reads the
 * block in place and keeps the encoder's memory between blocks, 1-4 % less time per block.
 *
 * It also hashes (xxh64.c, the data writer's duplicate-detection hash), reads small host files
 * in one threadpool job each and what the page cache holds on the calling thread (read-file.c),
 * reads small host files ahead on a reader thread of its own (read-queue.c), advises transparent
 * huge pages for large buffers (huge-pages.c), and tells whether a block is all zeros
 * (zero-bytes.c).
 *
 * Apart from the read queue (an object of its caller's environment) and xz-encode.c's per-
 * environment encoder, nothing keeps state between calls: all of it is safe in worker threads.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>

#include "huge-pages.h"
#include "list-dir.h"
#include "napi-bytes.h"
#include "read-file.h"
#include "read-queue.h"
#include "xxh64.h"
#include "xz-encode.h"
#include "zero-bytes.h"
#include "copy-bytes.h"

/* ---- zlib ABI (zlib.h, stable since 1.2.0) ---- */
typedef struct {
  const unsigned char *next_in;
  unsigned int avail_in;
  unsigned long total_in;
  unsigned char *next_out;
  unsigned int avail_out;
  unsigned long total_out;
  const char *msg;
  void *state;
  void *zalloc;
  void *zfree;
  void *opaque;
  int data_type;
  unsigned long adler;
  unsigned long reserved;
} z_stream_abi;
#define Z_OK 0
#define Z_STREAM_END 1
#define Z_FINISH 4
#define Z_DEFLATED 8

static const char *(*p_zlibVersion)(void);
static int (*p_deflateInit2_)(z_stream_abi *, int, int, int, int, int, const char *, int);
static int (*p_deflate)(z_stream_abi *, int);
static int (*p_deflateEnd)(z_stream_abi *);
static unsigned long (*p_deflateBound)(z_stream_abi *, unsigned long);

/* ---- libdeflate ABI (libdeflate.h, 1.x) ---- */
static void *(*p_libdeflate_alloc_compressor)(int);
static size_t (*p_libdeflate_zlib_compress)(void *, const void *, size_t, void *, size_t);
static size_t (*p_libdeflate_zlib_compress_bound)(void *, size_t);
static void (*p_libdeflate_free_compressor)(void *);

static int have_zlib, have_libdeflate;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *open_lib(const char *name) {
#ifdef RTLD_DEEPBIND
  return dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#else
  (void)name;
  return NULL;
#endif
}

static void load(void) {
  void *z = open_lib("libz.so.1");
  if (z) {
    p_zlibVersion = (const char *(*)(void))dlsym(z, "zlibVersion");
    p_deflateInit2_ = (int (*)(z_stream_abi *, int, int, int, int, int, const char *, int))dlsym(
        z, "deflateInit2_");
    p_deflate = (int (*)(z_stream_abi *, int))dlsym(z, "deflate");
    p_deflateEnd = (int (*)(z_stream_abi *))dlsym(z, "deflateEnd");
    p_deflateBound = (unsigned long (*)(z_stream_abi *, unsigned long))dlsym(z, "deflateBound");
    have_zlib = p_zlibVersion && p_deflateInit2_ && p_deflate && p_deflateEnd && p_deflateBound;
  }
  void *d = open_lib("libdeflate.so.0");
  if (d) {
    p_libdeflate_alloc_compressor = (void *(*)(int))dlsym(d, "libdeflate_alloc_compressor");
    p_libdeflate_zlib_compress = (size_t (*)(void *, const void *, size_t, void *, size_t))dlsym(
        d, "libdeflate_zlib_compress");
    p_libdeflate_zlib_compress_bound =
        (size_t (*)(void *, size_t))dlsym(d, "libdeflate_zlib_compress_bound");
    p_libdeflate_free_compressor = (void (*)(void *))dlsym(d, "libdeflate_free_compressor");
    have_libdeflate = p_libdeflate_alloc_compressor && p_libdeflate_zlib_compress &&
                      p_libdeflate_zlib_compress_bound && p_libdeflate_free_compressor;
  }
}

#define CHECK(call)                                                                              \
  do {                                                                                           \
    if ((call) != napi_ok) return NULL;                                                          \
  } while (0)

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

/* Input bytes of a Uint8Array (or Buffer). */
static int get_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *len) {
  return napi_uint8_bytes(env, v, (void **)data, len);
}

static napi_value throw_msg(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* deflate(input, level, windowBits, memLevel, strategy): a zlib stream, as compress2 with options. */
static napi_value js_deflate(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  uint32_t level, wbits, mem, strategy;
  const uint8_t *in;
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!have_zlib) return throw_msg(env, "system zlib is not available");
  if (argc < 5 || !get_bytes(env, argv[0], &in, &len) || !get_u32(env, argv[1], &level) ||
      !get_u32(env, argv[2], &wbits) || !get_u32(env, argv[3], &mem) ||
      !get_u32(env, argv[4], &strategy) || len > 0xffffffffu)
    return throw_msg(env, "deflate(input: Uint8Array, level, windowBits, memLevel, strategy)");
  z_stream_abi s;
  memset(&s, 0, sizeof s);
  if (p_deflateInit2_(&s, (int)level, Z_DEFLATED, (int)wbits, (int)mem, (int)strategy,
                      p_zlibVersion(), (int)sizeof s) != Z_OK)
    return throw_msg(env, "deflateInit2 failed");
  size_t cap = p_deflateBound(&s, len);
  uint8_t *out = malloc(cap ? cap : 1);
  if (!out) {
    p_deflateEnd(&s);
    return throw_msg(env, "out of memory");
  }
  s.next_in = in;
  s.avail_in = (unsigned int)len;
  s.next_out = out;
  s.avail_out = (unsigned int)cap;
  int rc = p_deflate(&s, Z_FINISH);
  size_t produced = s.total_out;
  p_deflateEnd(&s);
  if (rc != Z_STREAM_END) {
    free(out);
    return throw_msg(env, "deflate did not finish");
  }
  napi_status st = napi_create_buffer_copy(env, produced, out, NULL, &result);
  free(out);
  return st == napi_ok ? result : NULL;
}

/*
 * libdeflateZlib(input, level): a zlib stream from libdeflate (levels 1-12, 32 KiB window).
 * Not zlib's bytes, but a valid zlib stream any inflater (the kernel's) decodes.
 */
static napi_value js_libdeflate_zlib(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  uint32_t level;
  const uint8_t *in;
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!have_libdeflate) return throw_msg(env, "system libdeflate is not available");
  if (argc < 2 || !get_bytes(env, argv[0], &in, &len) || !get_u32(env, argv[1], &level))
    return throw_msg(env, "libdeflateZlib(input: Uint8Array, level)");
  void *c = p_libdeflate_alloc_compressor((int)level);
  if (!c) return throw_msg(env, "libdeflate_alloc_compressor failed (level 1-12)");
  size_t cap = p_libdeflate_zlib_compress_bound(c, len);
  uint8_t *out = malloc(cap ? cap : 1);
  size_t n = out ? p_libdeflate_zlib_compress(c, in, len, out, cap) : 0;
  p_libdeflate_free_compressor(c);
  if (n == 0) {
    free(out);
    return throw_msg(env, "libdeflate_zlib_compress failed");
  }
  napi_status st = napi_create_buffer_copy(env, n, out, NULL, &result);
  free(out);
  return st == napi_ok ? result : NULL;
}

static napi_value str_or_null(napi_env env, const char *s) {
  napi_value v;
  if (s) {
    if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) != napi_ok) return NULL;
  } else if (napi_get_null(env, &v) != napi_ok) {
    return NULL;
  }
  return v;
}

NAPI_MODULE_INIT() {
  pthread_once(&once, load);
  napi_value fn, v;
  CHECK(napi_create_function(env, "deflate", NAPI_AUTO_LENGTH, js_deflate, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "deflate", fn));
  CHECK(napi_create_function(env, "libdeflateZlib", NAPI_AUTO_LENGTH, js_libdeflate_zlib, NULL,
                             &fn));
  CHECK(napi_set_named_property(env, exports, "libdeflateZlib", fn));
  CHECK(napi_get_boolean(env, have_libdeflate, &v));
  CHECK(napi_set_named_property(env, exports, "libdeflate", v));
  v = str_or_null(env, have_zlib ? p_zlibVersion() : NULL);
  CHECK(v ? napi_set_named_property(env, exports, "zlibVersion", v) : napi_generic_failure);
  CHECK(xxh64_register(env, exports) ? napi_ok : napi_generic_failure);
  CHECK(read_file_register(env, exports) ? napi_ok : napi_generic_failure);
  CHECK(read_queue_register(env, exports) ? napi_ok : napi_generic_failure);
  CHECK(list_dir_register(env, exports) ? napi_ok : napi_generic_failure);
  CHECK(huge_pages_register(env, exports) ? napi_ok : napi_generic_failure);
  CHECK(xz_encode_register(env, exports) ? napi_ok : napi_generic_failure);
  CHECK(zero_bytes_register(env, exports) ? napi_ok : napi_generic_failure);
  CHECK(copy_bytes_register(env, exports) ? napi_ok : napi_generic_failure);
  return exports;
}
