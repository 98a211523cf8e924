/*
 * lstatMany(dir, names, out, callback): lstat of several entries of one directory in a single
 * libuv threadpool job, each relative to one descriptor of the directory (fstatat with
 * AT_SYMLINK_NOFOLLOW). Node's fs makes every lstat its own job and its own promise; on a tree of
 * 20 000 small files those were the largest part of the scan's main-thread time.
 *
 * `out` is a BigInt64Array of LSTAT_FIELDS values per name, in this order: dev, ino, mode, nlink,
 * uid, gid, rdev, size, blocks, mtime seconds, mtime nanoseconds, and errno (0 when the entry was
 * stat'ed). dev, ino and rdev are unsigned 64-bit values stored bit for bit. The callback is
 * called with no argument once `out` is filled. A name that fails (including every name, when
 * the directory cannot be opened) only has its errno set: the caller retries it through Node's
 * own lstat to get Node's error for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>

#include "lstat-many.h"
#include "napi-bytes.h"

#define LSTAT_FIELDS 12

typedef struct {
  napi_async_work work;
  napi_ref out_ref;
  napi_ref callback_ref;
  char *dir;
  int64_t *out;
  uint32_t count;
  char *names[];
} lstat_job;

static void execute(napi_env env, void *data) {
  (void)env;
  lstat_job *job = data;
  int dirfd;
  do dirfd = open(job->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  while (dirfd < 0 && errno == EINTR);
  int open_error = dirfd < 0 ? errno : 0;
  for (uint32_t i = 0; i < job->count; i++) {
    int64_t *o = job->out + (size_t)i * LSTAT_FIELDS;
    struct stat st;
    if (open_error) {
      o[11] = open_error;
      continue;
    }
    if (fstatat(dirfd, job->names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
      o[11] = errno ? errno : EIO;
      continue;
    }
    o[0] = (int64_t)(uint64_t)st.st_dev;
    o[1] = (int64_t)(uint64_t)st.st_ino;
    o[2] = st.st_mode;
    o[3] = (int64_t)st.st_nlink;
    o[4] = st.st_uid;
    o[5] = st.st_gid;
    o[6] = (int64_t)(uint64_t)st.st_rdev;
    o[7] = st.st_size;
    o[8] = st.st_blocks;
    o[9] = st.st_mtim.tv_sec;
    o[10] = st.st_mtim.tv_nsec;
    o[11] = 0;
  }
  if (dirfd >= 0) close(dirfd);
}

static void free_job(lstat_job *job) {
  for (uint32_t i = 0; i < job->count; i++) free(job->names[i]);
  free(job->dir);
  free(job);
}

static void complete(napi_env env, napi_status status, void *data) {
  lstat_job *job = data;
  napi_value callback, global;
  if (status != napi_ok) {
    for (uint32_t i = 0; i < job->count; i++) job->out[(size_t)i * LSTAT_FIELDS + 11] = ECANCELED;
  }
  napi_get_reference_value(env, job->callback_ref, &callback);
  napi_get_global(env, &global);
  napi_delete_reference(env, job->out_ref);
  napi_delete_reference(env, job->callback_ref);
  napi_delete_async_work(env, job->work);
  free_job(job);
  napi_call_function(env, global, callback, 0, NULL, NULL);
}

/* A NUL-terminated copy of a Uint8Array argument without NUL bytes in it; NULL otherwise. */
static char *c_string(napi_env env, napi_value v) {
  void *data;
  size_t len;
  if (!napi_uint8_bytes(env, v, &data, &len) || memchr(data, 0, len) != NULL) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  memcpy(s, data, len);
  s[len] = 0;
  return s;
}

static napi_value js_lstat_many(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint32_t count = 0;
  napi_valuetype cb_type;
  napi_typedarray_type out_type;
  size_t out_len, out_off;
  void *out_data;
  napi_value out_ab;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4 || napi_get_array_length(env, argv[1], &count) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &out_type, &out_len, &out_data, &out_ab, &out_off) !=
          napi_ok ||
      out_type != napi_bigint64_array || out_len < (size_t)count * LSTAT_FIELDS ||
      napi_typeof(env, argv[3], &cb_type) != napi_ok || cb_type != napi_function)
    goto usage;
  lstat_job *job = calloc(1, sizeof *job + count * sizeof(char *));
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->out = out_data;
  job->dir = c_string(env, argv[0]);
  if (!job->dir) {
    free_job(job);
    goto usage;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value n;
    job->count = i; /* so free_job frees the names taken so far */
    if (napi_get_element(env, argv[1], i, &n) != napi_ok || !(job->names[i] = c_string(env, n))) {
      free_job(job);
      goto usage;
    }
  }
  job->count = count;
  /* References keep `out` (whose memory the job writes) and the callback alive. */
  if (napi_create_reference(env, argv[2], 1, &job->out_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &job->callback_ref) != napi_ok ||
      !napi_queue_job(env, "tsquashfs:lstatMany", execute, complete, job, &job->work)) {
    napi_throw_error(env, NULL, "lstatMany: could not queue the calls");
    return NULL;
  }
  return NULL;
usage:
  napi_throw_type_error(env, NULL,
                        "lstatMany(dir: Uint8Array, names: Uint8Array[], out: BigInt64Array, "
                        "callback: () => void), names and dir without NUL bytes");
  return NULL;
}

int lstat_many_register(napi_env env, napi_value exports) {
  return napi_export_function(env, exports, "lstatMany", js_lstat_many);
}
