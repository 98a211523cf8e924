/*
 * readFile(path, into, expected, callback): open + read + close of one host file in a single
 * libuv threadpool job. Node's fs makes each of the three its own job, and on a tree of small
 * files those round trips between the main thread and the pool (and the scheduling they cause on
 * a 2-core machine) were most of the writer's main-thread time: 20 000 files meant 60 000 jobs.
 *
 * The file is opened O_NOFOLLOW like HostFileSource's own path, and read until `into` is full, the
 * end of the file, or a short read that completes `expected` bytes (the same stopping rule as the
 * JavaScript reader, so both issue the same reads). The callback gets (null, bytesRead) or an
 * Error with `code` (the errno name, e.g. 'ENOENT') and `syscall`, like Node's fs errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#include "read-file.h"

typedef struct {
  napi_async_work work;
  napi_ref into_ref;
  napi_ref callback_ref;
  char *path;
  uint8_t *into;
  size_t capacity;
  size_t expected;
  size_t got;
  int error;           /* errno, 0 on success */
  const char *syscall; /* the call that failed */
} read_job;

static void execute(napi_env env, void *data) {
  (void)env;
  read_job *job = data;
  int fd;
  do fd = open(job->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    job->error = errno;
    job->syscall = "open";
    return;
  }
  while (job->got < job->capacity) {
    ssize_t n = read(fd, job->into + job->got, job->capacity - job->got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      job->error = errno;
      job->syscall = "read";
      break;
    }
    if (n == 0) break;
    job->got += (size_t)n;
    if (job->got == job->expected && job->got < job->capacity) break;
  }
  close(fd);
}

static void complete(napi_env env, napi_status status, void *data) {
  read_job *job = data;
  napi_value callback, global, argv[2];
  napi_get_reference_value(env, job->callback_ref, &callback);
  napi_get_global(env, &global);
  if (status != napi_ok) job->error = ECANCELED, job->syscall = "read";
  if (job->error) {
    napi_value code, message, syscall;
    const char *name = uv_err_name(-job->error);
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, strerror(job->error), NAPI_AUTO_LENGTH, &message);
    napi_create_string_utf8(env, job->syscall, NAPI_AUTO_LENGTH, &syscall);
    napi_create_error(env, code, message, &argv[0]);
    napi_set_named_property(env, argv[0], "syscall", syscall);
    napi_get_undefined(env, &argv[1]);
  } else {
    napi_get_null(env, &argv[0]);
    napi_create_double(env, (double)job->got, &argv[1]);
  }
  napi_delete_reference(env, job->into_ref);
  napi_delete_reference(env, job->callback_ref);
  napi_delete_async_work(env, job->work);
  free(job->path);
  free(job);
  napi_call_function(env, global, callback, 2, argv, NULL);
}

static napi_value js_read_file(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], name;
  void *path_data, *into_data;
  size_t path_len, into_len, off;
  napi_typedarray_type type;
  napi_value ab;
  double expected;
  napi_valuetype cb_type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4 ||
      napi_get_typedarray_info(env, argv[0], &type, &path_len, &path_data, &ab, &off) != napi_ok ||
      type != napi_uint8_array ||
      napi_get_typedarray_info(env, argv[1], &type, &into_len, &into_data, &ab, &off) != napi_ok ||
      type != napi_uint8_array || napi_get_value_double(env, argv[2], &expected) != napi_ok ||
      napi_typeof(env, argv[3], &cb_type) != napi_ok || cb_type != napi_function ||
      memchr(path_data, 0, path_len) != NULL) {
    napi_throw_type_error(env, NULL,
                          "readFile(path: Uint8Array, into: Uint8Array, expected: number, "
                          "callback: (err, bytesRead) => void)");
    return NULL;
  }
  read_job *job = calloc(1, sizeof *job);
  char *path = malloc(path_len + 1);
  if (!job || !path) {
    free(job);
    free(path);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  memcpy(path, path_data, path_len);
  path[path_len] = 0;
  job->path = path;
  job->into = into_data;
  job->capacity = into_len;
  job->expected = expected < 0 ? 0 : (size_t)expected;
  /* References keep the buffer (whose memory the job writes) and the callback alive. */
  if (napi_create_reference(env, argv[1], 1, &job->into_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &job->callback_ref) != napi_ok ||
      napi_create_string_utf8(env, "tsquashfs:readFile", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    napi_throw_error(env, NULL, "readFile: could not queue the read");
    return NULL;
  }
  return NULL;
}

int read_file_register(napi_env env, napi_value exports) {
  napi_value fn;
  return napi_create_function(env, "readFile", NAPI_AUTO_LENGTH, js_read_file, NULL, &fn) ==
             napi_ok &&
         napi_set_named_property(env, exports, "readFile", fn) == napi_ok;
}
