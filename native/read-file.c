/*
 * readFiles(paths, intos, expected, callback): open + read + close of several host files in a
 * single libuv threadpool job. Node's fs makes each of the three calls its own job, and on a tree
 * of small files those round trips between the main thread and the pool (each a thread wake-up,
 * which on a 2-core machine costs the main thread its core) were most of the writer's main-thread
 * time: 20 000 files meant 60 000 jobs.
 *
 * Each file is opened O_NOFOLLOW like HostFileSource's own path, and read until `into` is full, the
 * end of the file, or a short read that completes `expected` bytes (the same stopping rule as the
 * JavaScript reader, so both issue the same reads). The callback gets, per file, bytesRead or an
 * Error with `code` (the errno name, e.g. 'ENOENT') and `syscall`, like Node's fs errors.
 *
 * readFileCached(path, into, expected): readFiles for one small file on the calling thread, and
 * only when the kernel's caches hold all of it: its path resolves from the dentry cache (openat2
 * with RESOLVE_CACHED) and its bytes from the page cache (preadv2 with RWF_NOWAIT); else the
 * caller leaves it to readFiles.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#include "napi-bytes.h"
#include "read-file.h"

typedef struct {
  napi_async_work work;
  napi_ref intos_ref;
  napi_ref callback_ref;
  uint32_t count;
  read_item items[];
} read_job;

void read_one(read_item *item) {
  int fd;
  do fd = open(item->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    item->error = errno;
    item->syscall = "open";
    return;
  }
  while (item->got < item->capacity) {
    ssize_t n = read(fd, item->into + item->got, item->capacity - item->got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      item->error = errno;
      item->syscall = "read";
      break;
    }
    if (n == 0) break;
    item->got += (size_t)n;
    if (item->got == item->expected && item->got < item->capacity) break;
  }
  close(fd);
}

static void execute(napi_env env, void *data) {
  (void)env;
  read_job *job = data;
  for (uint32_t i = 0; i < job->count; i++) read_one(&job->items[i]);
}

static void free_job(read_job *job) {
  for (uint32_t i = 0; i < job->count; i++) free(job->items[i].path);
  free(job);
}

/* The callback gets one entry per file: its byte count, or an Error with code and syscall. */
static void complete(napi_env env, napi_status status, void *data) {
  read_job *job = data;
  napi_value callback, global, results;
  napi_get_reference_value(env, job->callback_ref, &callback);
  napi_get_global(env, &global);
  napi_create_array_with_length(env, job->count, &results);
  for (uint32_t i = 0; i < job->count; i++) {
    read_item *item = &job->items[i];
    napi_value v;
    if (status != napi_ok && !item->error) item->error = ECANCELED, item->syscall = "read";
    if (item->error) {
      napi_value code, message, syscall;
      napi_create_string_utf8(env, uv_err_name(-item->error), NAPI_AUTO_LENGTH, &code);
      napi_create_string_utf8(env, strerror(item->error), NAPI_AUTO_LENGTH, &message);
      napi_create_string_utf8(env, item->syscall, NAPI_AUTO_LENGTH, &syscall);
      napi_create_error(env, code, message, &v);
      napi_set_named_property(env, v, "syscall", syscall);
    } else {
      napi_create_double(env, (double)item->got, &v);
    }
    napi_set_element(env, results, i, v);
  }
  napi_delete_reference(env, job->intos_ref);
  napi_delete_reference(env, job->callback_ref);
  napi_delete_async_work(env, job->work);
  free_job(job);
  napi_call_function(env, global, callback, 1, &results, NULL);
}


/* Fills item `i` from paths[i], intos[i], expected[i]; 0 when an argument is not as documented. */
static int get_item(napi_env env, napi_value paths, napi_value intos, napi_value expected,
                    uint32_t i, read_item *item) {
  napi_value p, b, e;
  void *path_data, *into_data;
  size_t path_len, into_len;
  double want;
  if (napi_get_element(env, paths, i, &p) != napi_ok ||
      napi_get_element(env, intos, i, &b) != napi_ok ||
      napi_get_element(env, expected, i, &e) != napi_ok || !napi_uint8_bytes(env, p, &path_data, &path_len) ||
      !napi_uint8_bytes(env, b, &into_data, &into_len) || napi_get_value_double(env, e, &want) != napi_ok ||
      memchr(path_data, 0, path_len) != NULL)
    return 0;
  item->path = malloc(path_len + 1);
  if (!item->path) return 0;
  memcpy(item->path, path_data, path_len);
  item->path[path_len] = 0;
  item->into = into_data;
  item->capacity = into_len;
  item->expected = want < 0 ? 0 : (size_t)want;
  return 1;
}

/*
 * readFiles(paths: Uint8Array[], intos: Uint8Array[], expected: number[], callback): reads the
 * files one after another in one threadpool job. `intos` must not change until the callback.
 */
static napi_value js_read_files(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint32_t count = 0, n2 = 0, n3 = 0;
  napi_valuetype cb_type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4 || napi_get_array_length(env, argv[0], &count) != napi_ok ||
      napi_get_array_length(env, argv[1], &n2) != napi_ok ||
      napi_get_array_length(env, argv[2], &n3) != napi_ok || n2 != count || n3 != count ||
      napi_typeof(env, argv[3], &cb_type) != napi_ok || cb_type != napi_function)
    goto usage;
  read_job *job = calloc(1, sizeof *job + count * sizeof(read_item));
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    job->count = i + 1; /* so free_job frees the paths taken so far */
    if (!get_item(env, argv[0], argv[1], argv[2], i, &job->items[i])) {
      free_job(job);
      goto usage;
    }
  }
  job->count = count;
  /* References keep the buffers (whose memory the job writes) and the callback alive. */
  if (napi_create_reference(env, argv[1], 1, &job->intos_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &job->callback_ref) != napi_ok ||
      !napi_queue_job(env, "tsquashfs:readFiles", execute, complete, job, &job->work)) {
    napi_throw_error(env, NULL, "readFiles: could not queue the reads");
    return NULL;
  }
  return NULL;
usage:
  napi_throw_type_error(env, NULL,
                        "readFiles(paths: Uint8Array[], intos: Uint8Array[], expected: number[], "
                        "callback: (results: (number | Error)[]) => void)");
  return NULL;
}

void throw_errno(napi_env env, int err, const char *syscall_name) {
  napi_value code, message, error, syscall;
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &syscall);
  napi_create_error(env, code, message, &error);
  napi_set_named_property(env, error, "syscall", syscall);
  napi_throw(env, error);
}

/* Whether preadv2's errno says "not without waiting" (or "cannot tell"), not a failure. */
static int would_wait(int err) {
  return err == EAGAIN || err == EOPNOTSUPP || err == EINVAL || err == ENOSYS;
}

/*
 * Reads from `fd` at its offset, with RWF_NOWAIT, into `into` (`len` bytes) until it is full, the
 * file ends, a short read completes `expected` bytes, or a page is not
 * cached (a read that stops short at a readahead mark, for one). *done: the bytes read. Returns
 * 0, -1 when a read would have waited for the disk, or the errno of a failed read.
 */
static int read_nowait(int fd, uint8_t *into, size_t len, size_t expected, size_t *done) {
  *done = 0;
  while (*done < len) {
    struct iovec iov = {.iov_base = into + *done, .iov_len = len - *done};
    ssize_t n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return would_wait(errno) ? -1 : errno;
    if (n == 0) break;
    *done += (size_t)n;
    if (*done == expected && *done < len) break;
  }
  return 0;
}

/* openat2 is not in glibc 2.36; where the kernel lacks it (before 5.6), ENOSYS: not cached. */
static int open_cached(const char *path) {
#ifdef SYS_openat2
  struct open_how how = {.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC, .resolve = RESOLVE_CACHED};
  int fd;
  do fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  return fd;
#else
  (void)path;
  errno = ENOSYS;
  return -1;
#endif
}

/*
 * readFileCached(path: Uint8Array, into: Uint8Array, expected: number): readFiles for one file,
 * on the calling thread, when its path and bytes are all in the kernel's caches: the byte count,
 * or -1 when any of it would wait for the disk (the caller then uses readFiles). Throws an Error
 * with `code` and `syscall` when the open or a read fails.
 */
static napi_value js_read_file_cached(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  void *path_data, *into;
  size_t path_len, len;
  double want;
  char path[4096];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      !napi_uint8_bytes(env, argv[0], &path_data, &path_len) ||
      !napi_uint8_bytes(env, argv[1], &into, &len) ||
      napi_get_value_double(env, argv[2], &want) != napi_ok ||
      memchr(path_data, 0, path_len) != NULL) {
    napi_throw_type_error(env, NULL,
                          "readFileCached(path: Uint8Array, into: Uint8Array, expected: number)");
    return NULL;
  }
  double got = -1;
  if (path_len < sizeof path) {
    memcpy(path, path_data, path_len);
    path[path_len] = 0;
    int fd = open_cached(path);
    if (fd < 0 && errno != EAGAIN && errno != ENOSYS && errno != EINVAL) {
      throw_errno(env, errno, "open");
      return NULL;
    }
    if (fd >= 0) {
      size_t done;
      int err = read_nowait(fd, into, len, want < 0 ? 0 : (size_t)want, &done);
      close(fd);
      if (err > 0) {
        throw_errno(env, err, "read");
        return NULL;
      }
      if (err == 0) got = (double)done;
    }
  }
  napi_create_double(env, got, &result);
  return result;
}

int read_file_register(napi_env env, napi_value exports) {
  return napi_export_function(env, exports, "readFiles", js_read_files) &&
         napi_export_function(env, exports, "readFileCached", js_read_file_cached);
}
