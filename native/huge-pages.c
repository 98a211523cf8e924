/*
 * adviseHugePages(bytes): madvise(MADV_HUGEPAGE) over the 2 MiB-aligned part of a Uint8Array's
 * memory (shared or not), and the number of bytes advised (0 where that part is empty or the
 * call failed: nothing changes then but speed).
 *
 * Why: on this kind of VM a page fault costs about 12 us, so the first touch of fresh memory
 * costs about 3 ms per MiB (64 MiB: 190 ms), most of an uncompressed run's CPU beyond the copies
 * themselves. With transparent huge pages in "madvise" mode (Debian's default) an advised region
 * faults in 2 MiB at a time: 64 MiB in 5 ms. The region must not have been touched yet, so the
 * caller advises a large buffer right after allocating it: V8 allocates big ones with calloc,
 * which for these sizes maps fresh zero pages without writing them.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <node_api.h>

#include "huge-pages.h"
#include "napi-bytes.h"

#define HUGE_PAGE ((uintptr_t)2 << 20)

static napi_value js_advise_huge_pages(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data;
  size_t len;
  double advised = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      !napi_uint8_bytes(env, argv[0], &data, &len)) {
    napi_throw_type_error(env, NULL, "adviseHugePages(bytes: Uint8Array)");
    return NULL;
  }
#ifdef MADV_HUGEPAGE
  uintptr_t start = ((uintptr_t)data + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  uintptr_t end = ((uintptr_t)data + len) & ~(HUGE_PAGE - 1);
  if (end > start && madvise((void *)start, end - start, MADV_HUGEPAGE) == 0) {
    advised = (double)(end - start);
  }
#endif
  napi_value result;
  napi_create_double(env, advised, &result);
  return result;
}

int huge_pages_register(napi_env env, napi_value exports) {
  return napi_export_function(env, exports, "adviseHugePages", js_advise_huge_pages);
}
