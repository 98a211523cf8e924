/*
 * xzEncode(input, dictSize, bcjId): one .xz stream of `input` with the system's liblzma, called
 * the way mksquashfs 4.5.1 calls it (xz_wrapper.c): lzma_stream_buffer_encode with LZMA2 at
 * preset 6 and the given dictionary, after the BCJ filter `bcjId` (0 for none), and a CRC32
 * check. Returns the stream as a Buffer. xz.ts uses it only where its output on a fixed sample
 * equals lzma-native's (the bytes our images had before), so the image bytes never depend on
 * which engine ran.
 *
 * Against lzma-native's path (a new lzma_stream per block; the input copied into a vector, the
 * output produced in vectors and copied again, the .xz container and CRC32 built in JavaScript)
 * this reads the caller's memory in place, shared or not: 1-4 % less time per 1 MiB block. The
 * encoder's large allocations (about 12 MiB with a 1 MiB dictionary) go through an
 * lzma_allocator that keeps them, per Node environment, for the next block, mapped with
 * huge-page advice; in C that measured no faster than malloc, which already reuses the memory,
 * but it bounds what each block touches anew to nothing.
 *
 * liblzma is opened with dlopen, and the few types used are declared here (liblzma's ABI is
 * stable across 5.x), so no development headers are needed. Where liblzma.so.5 is missing,
 * xzEncode is not exported.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <node_api.h>

#include "napi-bytes.h"
#include "xz-encode.h"

/* ---- liblzma ABI (lzma/base.h, lzma/filter.h, lzma/lzma12.h; stable since 5.0) ---- */
typedef uint64_t lzma_vli;
typedef struct {
  lzma_vli id;
  void *options;
} lzma_filter_abi;
typedef struct {
  void *(*alloc)(void *opaque, size_t nmemb, size_t size);
  void (*free)(void *opaque, void *ptr);
  void *opaque;
} lzma_allocator_abi;
/* lzma_options_lzma: the public fields, then reserved space liblzma requires to be zero. */
typedef struct {
  uint32_t dict_size;
  const uint8_t *preset_dict;
  uint32_t preset_dict_size;
  uint32_t lc, lp, pb;
  int mode;
  uint32_t nice_len;
  int mf;
  uint32_t depth;
  uint32_t reserved_int[8]; /* ext_flags, ext_size_low, ext_size_high, reserved_int4-8 */
  int reserved_enum[4];
  void *reserved_ptr[2];
} lzma_options_lzma_abi;
#define LZMA_VLI_UNKNOWN UINT64_MAX
#define LZMA_FILTER_LZMA2 0x21
#define LZMA_CHECK_CRC32 1
#define LZMA_MODE_NORMAL 2
#define LZMA_MF_BT4 0x14
#define LZMA_OK 0

static int (*p_stream_buffer_encode)(lzma_filter_abi *, int, const lzma_allocator_abi *,
                                     const uint8_t *, size_t, uint8_t *, size_t *, size_t);
static int (*p_stream_buffer_decode)(uint64_t *, uint32_t, const lzma_allocator_abi *,
                                     const uint8_t *, size_t *, size_t, uint8_t *, size_t *,
                                     size_t);
static size_t (*p_stream_buffer_bound)(size_t);
static const char *(*p_version_string)(void);
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
  void *l = dlopen("liblzma.so.5", RTLD_NOW | RTLD_LOCAL);
  if (!l) return;
  p_stream_buffer_encode = dlsym(l, "lzma_stream_buffer_encode");
  p_stream_buffer_bound = dlsym(l, "lzma_stream_buffer_bound");
  p_version_string = dlsym(l, "lzma_version_string");
  p_stream_buffer_decode = dlsym(l, "lzma_stream_buffer_decode");
  if (!p_stream_buffer_encode || !p_stream_buffer_bound || !p_version_string) {
    p_stream_buffer_encode = NULL;
  }
}

/* ---- the allocator: large regions kept per thread, mapped with huge-page advice ---- */
#define KEEP_FROM ((size_t)64 << 10)
#define MAX_REGIONS 16
#define HUGE_PAGE ((size_t)2 << 20)

typedef struct {
  void *at;     /* what liblzma was given */
  void *map;    /* the mapping */
  size_t size;  /* the size asked for */
  size_t mapped;
  int in_use;
} region;
typedef struct {
  region regions[MAX_REGIONS];
  int count;
} region_cache;

/*
 * One cache per Node environment (the main thread, each worker), kept as the addon's instance
 * data: calls on an environment all run on its thread, and the finalizer unmaps the regions when
 * the environment ends. (Not a pthread key with a destructor: Node unloads a worker's addons when
 * the worker ends, before its thread exits, and the destructor then ran in unmapped code.)
 */
static void drop_cache(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  region_cache *c = data;
  for (int i = 0; i < c->count; i++) munmap(c->regions[i].map, c->regions[i].mapped);
  free(c);
}

static region_cache *env_cache(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) == napi_ok && data) return data;
  region_cache *c = calloc(1, sizeof *c);
  if (c && napi_set_instance_data(env, c, drop_cache, NULL) != napi_ok) {
    free(c);
    c = NULL;
  }
  return c;
}

static void *keep_alloc(void *opaque, size_t nmemb, size_t size) {
  if (size != 0 && nmemb > SIZE_MAX / size) return NULL;
  size_t n = nmemb * size;
  region_cache *c = n >= KEEP_FROM ? opaque : NULL;
  if (!c) return malloc(n);
  for (int i = 0; i < c->count; i++) {
    region *r = &c->regions[i];
    if (!r->in_use && r->size == n) {
      r->in_use = 1;
      return r->at;
    }
  }
  if (c->count == MAX_REGIONS) return malloc(n);
  /* Mapped one huge page larger, so that the region can start on a huge-page boundary. */
  size_t mapped = ((n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1)) + HUGE_PAGE;
  void *map = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return NULL;
  uint8_t *at = (uint8_t *)(((uintptr_t)map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
#ifdef MADV_HUGEPAGE
  madvise(at, mapped - (size_t)(at - (uint8_t *)map), MADV_HUGEPAGE);
#endif
  c->regions[c->count++] = (region){at, map, n, mapped, 1};
  return at;
}

static void keep_free(void *opaque, void *ptr) {
  if (!ptr) return;
  region_cache *c = opaque;
  if (c) {
    for (int i = 0; i < c->count; i++) {
      if (c->regions[i].at == ptr) {
        c->regions[i].in_use = 0;
        return;
      }
    }
  }
  free(ptr);
}


/* ---- xzEncode ---- */
static napi_value js_xz_encode(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *in;
  size_t in_len;
  uint32_t dict_size, bcj;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      !napi_uint8_bytes(env, argv[0], &in, &in_len) ||
      napi_get_value_uint32(env, argv[1], &dict_size) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &bcj) != napi_ok) {
    napi_throw_type_error(env, NULL, "xzEncode(input: Uint8Array, dictSize: number, bcjId: number)");
    return NULL;
  }
  /* Preset 6 spelled out, as xz.ts does for lzma-native: the fields lzma_lzma_preset(6) sets. */
  lzma_options_lzma_abi lzma;
  memset(&lzma, 0, sizeof lzma);
  lzma.dict_size = dict_size;
  lzma.lc = 3;
  lzma.lp = 0;
  lzma.pb = 2;
  lzma.mode = LZMA_MODE_NORMAL;
  lzma.nice_len = 64;
  lzma.mf = LZMA_MF_BT4;
  lzma.depth = 0;
  lzma_filter_abi filters[3];
  int f = 0;
  if (bcj != 0) filters[f++] = (lzma_filter_abi){bcj, NULL};
  filters[f++] = (lzma_filter_abi){LZMA_FILTER_LZMA2, &lzma};
  filters[f] = (lzma_filter_abi){LZMA_VLI_UNKNOWN, NULL};

  region_cache *cache = env_cache(env);
  const lzma_allocator_abi keeping = {keep_alloc, keep_free, cache};
  size_t bound = p_stream_buffer_bound(in_len);
  void *out_data;
  napi_value out;
  /* An uninitialised buffer of the bound, then a copy of the stream's size: small compressed
     blocks do not keep the bound's memory. */
  uint8_t *scratch = keep_alloc(cache, 1, bound);
  if (!scratch) {
    napi_throw_error(env, NULL, "xzEncode: out of memory");
    return NULL;
  }
  size_t out_pos = 0;
  int ret = p_stream_buffer_encode(filters, LZMA_CHECK_CRC32, &keeping, in, in_len, scratch,
                                   &out_pos, bound);
  napi_status st = ret == LZMA_OK ? napi_create_buffer_copy(env, out_pos, scratch, &out_data, &out)
                                  : napi_generic_failure;
  keep_free(cache, scratch);
  if (ret != LZMA_OK) {
    napi_throw_error(env, NULL, "xzEncode: lzma_stream_buffer_encode failed");
    return NULL;
  }
  return st == napi_ok ? out : NULL;
}

/*
 * xzDecode(input, output, memlimit): decodes the one .xz stream at the start of `input` into
 * `output` with lzma_stream_buffer_decode, in one call and in place: the writer's duplicate
 * checks decompress stored blocks, and lzma-native's path made a decoder object per block whose
 * native memory stayed until a garbage collection (75 MiB at once at the end of the bench's
 * binaries). Returns the bytes written, or -1 if the stream holds more than `output` takes.
 * Bytes after the stream are ignored, as lzma-native's decoder does. Throws on a damaged stream.
 */
#define LZMA_BUF_ERROR 10
static napi_value js_xz_decode(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *in, *out;
  size_t in_len, out_len;
  double memlimit;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      !napi_uint8_bytes(env, argv[0], &in, &in_len) ||
      !napi_uint8_bytes(env, argv[1], &out, &out_len) ||
      napi_get_value_double(env, argv[2], &memlimit) != napi_ok || memlimit < 1) {
    napi_throw_type_error(env, NULL,
                          "xzDecode(input: Uint8Array, output: Uint8Array, memlimit: number)");
    return NULL;
  }
  uint64_t limit = (uint64_t)memlimit;
  size_t in_pos = 0, out_pos = 0;
  int ret = p_stream_buffer_decode(&limit, 0, NULL, in, &in_pos, in_len, out, &out_pos, out_len);
  napi_value result;
  if (ret == LZMA_OK) {
    napi_create_double(env, (double)out_pos, &result);
    return result;
  }
  /* The single-call decoder restores the positions on any error; LZMA_BUF_ERROR is its word for
     an output buffer that is too small (a truncated input is LZMA_DATA_ERROR). */
  if (ret == LZMA_BUF_ERROR) {
    napi_create_double(env, -1, &result);
    return result;
  }
  char message[64];
  snprintf(message, sizeof message, "liblzma error %d at input byte %zu", ret, in_pos);
  napi_throw_error(env, NULL, message);
  return NULL;
}

int xz_encode_register(napi_env env, napi_value exports) {
  pthread_once(&once, load);
  if (!p_stream_buffer_encode) return 1; /* no liblzma: not exported */
  napi_value v;
  if (p_stream_buffer_decode && !napi_export_function(env, exports, "xzDecode", js_xz_decode))
    return 0;
  return napi_export_function(env, exports, "xzEncode", js_xz_encode) &&
         napi_create_string_utf8(env, p_version_string(), NAPI_AUTO_LENGTH, &v) == napi_ok &&
         napi_set_named_property(env, exports, "lzmaVersion", v) == napi_ok;
}
