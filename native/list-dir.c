/*
 * listDir(dir, xattrs, callback): the names of a directory's entries and the lstat of each, in
 * one libuv threadpool job: opendir, readdir, and fstatat (AT_SYMLINK_NOFOLLOW) relative to the
 * open directory. Node's fs needs a job for the readdir, makes a Buffer of every name on the main
 * thread, and then a job per lstat (or per batch, with lstatMany before this): on small-20000
 * (1 100 directories) the scan was those round trips and that garbage.
 *
 * callback(errno) when the directory cannot be listed; the caller then asks Node, for Node's
 * error. Otherwise callback(0, names, entries): `names` holds every name back to back, and
 * `entries` (a Float64Array) ENTRY_FIELDS values per entry, in byte order of the names (as Node's
 * readdir gives them, through libuv's scandir; the tree does not depend on it, but warnings and
 * the scanner's results then come in the same order with and without the addon): errno of the
 * fstatat (0 when stat'ed), start and length of the name in `names`, mode, nlink, uid, gid, size,
 * blocks, mtime seconds, then dev, ino and rdev as high and low 32-bit halves (exact, where a
 * double cannot hold 64 bits), and with `xattrs` the size of the entry's xattr name list
 * (llistxattr: 0 for none, also where the file system has no xattrs; -1 when it could not be
 * read, and always -1 without `xattrs`). "." and ".." are left out.
 *
 * The xattr list size lets the scanner skip reading xattrs of the (usual) entries that have
 * none: reading them is three system calls per entry on the main thread.
 *
 * listDirs(dirs, xattrs, callbacks) lists several directories in one job (see js_list_dirs).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <node_api.h>

#include "list-dir.h"
#include "napi-bytes.h"

#define ENTRY_FIELDS 17

typedef struct {
  napi_async_work work;
  napi_ref callback_ref;
  char *dir;
  int with_xattrs;
  int error;
  char *names;
  size_t names_len, names_cap;
  double *entries;
  size_t count, entries_cap;
} list_job;

/* Room for `more` bytes of names and one more entry; 0 when out of memory. */
static int reserve(list_job *job, size_t more) {
  if (job->names_len + more > job->names_cap) {
    size_t cap = job->names_cap ? job->names_cap : 4096;
    while (cap < job->names_len + more) cap *= 2;
    char *p = realloc(job->names, cap);
    if (!p) return 0;
    job->names = p, job->names_cap = cap;
  }
  if (job->count == job->entries_cap) {
    size_t cap = job->entries_cap ? job->entries_cap * 2 : 64;
    double *p = realloc(job->entries, cap * ENTRY_FIELDS * sizeof(double));
    if (!p) return 0;
    job->entries = p, job->entries_cap = cap;
  }
  return 1;
}

static void put_u64(double *o, uint64_t v) {
  o[0] = (double)(uint32_t)(v >> 32);
  o[1] = (double)(uint32_t)v;
}

/* Names compared as strcmp() does (bytes as unsigned, a prefix first); `names` is the job's. */
static int by_name(const void *a, const void *b, void *names) {
  const double *x = a, *y = b;
  size_t xl = (size_t)x[2], yl = (size_t)y[2];
  int c = memcmp((char *)names + (size_t)x[1], (char *)names + (size_t)y[1], xl < yl ? xl : yl);
  return c ? c : (xl > yl) - (xl < yl);
}

/* The size of the xattr name list of `name` in `dir` (not following a symlink), or -1. */
static double xattr_list_size(const char *dir, const char *name) {
  char path[PATH_MAX];
  int n = snprintf(path, sizeof path, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= sizeof path) return -1;
  ssize_t size = llistxattr(path, NULL, 0);
  if (size >= 0) return (double)size;
  return errno == ENOTSUP ? 0 : -1;
}

static void list_one(list_job *job) {
  int fd;
  do fd = open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    job->error = errno;
    return;
  }
  DIR *d = fdopendir(fd);
  if (!d) {
    job->error = errno;
    close(fd);
    return;
  }
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      if (errno) job->error = errno;
      break;
    }
    const char *name = e->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    size_t len = strlen(name);
    if (!reserve(job, len)) {
      job->error = ENOMEM;
      break;
    }
    double *o = job->entries + job->count * ENTRY_FIELDS;
    memset(o, 0, ENTRY_FIELDS * sizeof(double));
    o[16] = -1;
    o[1] = (double)job->names_len;
    o[2] = (double)len;
    memcpy(job->names + job->names_len, name, len);
    job->names_len += len;
    job->count++;
    struct stat st;
    if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      o[0] = errno ? errno : EIO;
      continue;
    }
    o[3] = st.st_mode;
    o[4] = (double)st.st_nlink;
    o[5] = st.st_uid;
    o[6] = st.st_gid;
    o[7] = (double)st.st_size;
    o[8] = (double)st.st_blocks;
    o[9] = (double)st.st_mtim.tv_sec;
    put_u64(o + 10, (uint64_t)st.st_dev);
    put_u64(o + 12, (uint64_t)st.st_ino);
    put_u64(o + 14, (uint64_t)st.st_rdev);
    if (job->with_xattrs) o[16] = xattr_list_size(job->dir, name);
  }
  closedir(d);
  if (!job->error && job->count > 1) {
    qsort_r(job->entries, job->count, ENTRY_FIELDS * sizeof(double), by_name, job->names);
  }
}

static void execute(napi_env env, void *data) {
  (void)env;
  list_one(data);
}

static void free_job(list_job *job) {
  free(job->names);
  free(job->entries);
  free(job->dir);
  free(job);
}

/* Calls `callback` with a listing's result: (errno) or (0, names, entries). Frees nothing. */
static void call_back(napi_env env, list_job *job, napi_value callback) {
  napi_value global, argv[3];
  int argc = 1;
  if (!job->error) {
    void *bytes;
    napi_value ab;
    size_t entry_bytes = job->count * ENTRY_FIELDS * sizeof(double);
    if (napi_create_buffer_copy(env, job->names_len, job->names_len ? job->names : "", NULL,
                                &argv[1]) == napi_ok &&
        napi_create_arraybuffer(env, entry_bytes, &bytes, &ab) == napi_ok &&
        napi_create_typedarray(env, napi_float64_array, job->count * ENTRY_FIELDS, ab, 0,
                               &argv[2]) == napi_ok) {
      if (entry_bytes) memcpy(bytes, job->entries, entry_bytes);
      argc = 3;
    } else {
      job->error = ENOMEM;
    }
  }
  napi_create_int32(env, job->error, &argv[0]);
  napi_get_global(env, &global);
  napi_call_function(env, global, callback, (size_t)argc, argv, NULL);
}

static void complete(napi_env env, napi_status status, void *data) {
  list_job *job = data;
  napi_value callback;
  if (status != napi_ok && !job->error) job->error = ECANCELED;
  napi_get_reference_value(env, job->callback_ref, &callback);
  napi_delete_reference(env, job->callback_ref);
  napi_delete_async_work(env, job->work);
  call_back(env, job, callback);
  free_job(job);
}

static napi_value js_list_dir(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_valuetype cb_type;
  void *dir;
  size_t dir_len;
  bool with_xattrs;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3 || !napi_uint8_bytes(env, argv[0], &dir, &dir_len) ||
      memchr(dir, 0, dir_len) != NULL ||
      napi_get_value_bool(env, argv[1], &with_xattrs) != napi_ok ||
      napi_typeof(env, argv[2], &cb_type) != napi_ok || cb_type != napi_function) {
    napi_throw_type_error(env, NULL,
                          "listDir(dir: Uint8Array without NUL bytes, xattrs: boolean, "
                          "callback: function)");
    return NULL;
  }
  list_job *job = calloc(1, sizeof *job);
  if (job) job->dir = malloc(dir_len + 1);
  if (!job || !job->dir) {
    if (job) free_job(job);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  memcpy(job->dir, dir, dir_len);
  job->dir[dir_len] = 0;
  job->with_xattrs = with_xattrs;
  if (napi_create_reference(env, argv[2], 1, &job->callback_ref) != napi_ok ||
      !napi_queue_job(env, "tsquashfs:listDir", execute, complete, job, &job->work)) {
    napi_throw_error(env, NULL, "listDir: could not queue the listing");
    return NULL;
  }
  return NULL;
}

/* listDirs: several directories listed one after another in one threadpool job. */
typedef struct {
  napi_async_work work;
  napi_ref callbacks_ref;
  uint32_t count;
  list_job *dirs[];
} list_batch;

static void execute_batch(napi_env env, void *data) {
  (void)env;
  list_batch *batch = data;
  for (uint32_t i = 0; i < batch->count; i++) list_one(batch->dirs[i]);
}

static void free_batch(list_batch *batch) {
  for (uint32_t i = 0; i < batch->count; i++) {
    if (batch->dirs[i]) free_job(batch->dirs[i]);
  }
  free(batch);
}

static void complete_batch(napi_env env, napi_status status, void *data) {
  list_batch *batch = data;
  napi_value callbacks;
  napi_get_reference_value(env, batch->callbacks_ref, &callbacks);
  napi_delete_reference(env, batch->callbacks_ref);
  napi_delete_async_work(env, batch->work);
  for (uint32_t i = 0; i < batch->count; i++) {
    list_job *job = batch->dirs[i];
    napi_value callback;
    if (status != napi_ok && !job->error) job->error = ECANCELED;
    if (napi_get_element(env, callbacks, i, &callback) == napi_ok) call_back(env, job, callback);
  }
  free_batch(batch);
}

/*
 * listDirs(dirs: Uint8Array[], xattrs, callbacks: function[]): listDir of each directory, in one
 * threadpool job, callbacks[i] called as listDir's callback for dirs[i] once all are listed. A
 * job per directory was a wake-up of a pool thread each (small-20000: 1 100), which on a 2-core
 * machine takes the main thread's core.
 */
static napi_value js_list_dirs(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  uint32_t count = 0, callbacks = 0;
  bool with_xattrs;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3 || napi_get_array_length(env, argv[0], &count) != napi_ok ||
      napi_get_array_length(env, argv[2], &callbacks) != napi_ok || callbacks != count ||
      napi_get_value_bool(env, argv[1], &with_xattrs) != napi_ok)
    goto usage;
  list_batch *batch = calloc(1, sizeof *batch + count * sizeof(list_job *));
  if (!batch) goto out_of_memory;
  for (uint32_t i = 0; i < count; i++) {
    napi_value dir_value, callback;
    napi_valuetype cb_type;
    void *dir;
    size_t dir_len;
    if (napi_get_element(env, argv[0], i, &dir_value) != napi_ok ||
        !napi_uint8_bytes(env, dir_value, &dir, &dir_len) || memchr(dir, 0, dir_len) != NULL ||
        napi_get_element(env, argv[2], i, &callback) != napi_ok ||
        napi_typeof(env, callback, &cb_type) != napi_ok || cb_type != napi_function) {
      free_batch(batch);
      goto usage;
    }
    list_job *job = calloc(1, sizeof *job);
    if (job) job->dir = malloc(dir_len + 1);
    if (!job || !job->dir) {
      if (job) free_job(job);
      free_batch(batch);
      goto out_of_memory;
    }
    memcpy(job->dir, dir, dir_len);
    job->dir[dir_len] = 0;
    job->with_xattrs = with_xattrs;
    batch->dirs[i] = job;
    batch->count = i + 1;
  }
  if (napi_create_reference(env, argv[2], 1, &batch->callbacks_ref) != napi_ok) {
    free_batch(batch);
    goto out_of_memory;
  }
  if (!napi_queue_job(env, "tsquashfs:listDirs", execute_batch, complete_batch, batch,
                      &batch->work)) {
    napi_delete_reference(env, batch->callbacks_ref);
    free_batch(batch);
    napi_throw_error(env, NULL, "listDirs: could not queue the listings");
    return NULL;
  }
  return NULL;
usage:
  napi_throw_type_error(env, NULL,
                        "listDirs(dirs: Uint8Array[] without NUL bytes, xattrs: boolean, "
                        "callbacks: function[] as many)");
  return NULL;
out_of_memory:
  napi_throw_error(env, NULL, "out of memory");
  return NULL;
}

/*
 * xattrListSize(path): llistxattr(path, NULL, 0) on the calling thread: the size of the path's
 * xattr name list (not following a symlink), 0 where the file system has none (ENOTSUP), or
 * -errno. One system call: it tells the scanner that an entry the listing did not cover (a
 * source named on the command line) has no xattrs, without loading an xattr library for it.
 */
static napi_value js_xattr_list_size(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  void *bytes;
  size_t len;
  char path[PATH_MAX];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || !napi_uint8_bytes(env, argv[0], &bytes, &len) || memchr(bytes, 0, len) != NULL) {
    napi_throw_type_error(env, NULL, "xattrListSize(path: Uint8Array without NUL bytes)");
    return NULL;
  }
  double result;
  if (len >= sizeof path) {
    result = -ENAMETOOLONG;
  } else {
    memcpy(path, bytes, len);
    path[len] = 0;
    ssize_t size = llistxattr(path, NULL, 0);
    result = size >= 0 ? (double)size : errno == ENOTSUP ? 0 : -(double)errno;
  }
  napi_create_double(env, result, &out);
  return out;
}

int list_dir_register(napi_env env, napi_value exports) {
  return napi_export_function(env, exports, "listDir", js_list_dir) &&
         napi_export_function(env, exports, "listDirs", js_list_dirs) &&
         napi_export_function(env, exports, "xattrListSize", js_xattr_list_size);
}
