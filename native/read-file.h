/* readFiles of read-file.c: open + read + close of small host files, several per threadpool job. */
#ifndef TSQUASHFS_READ_FILE_H
#define TSQUASHFS_READ_FILE_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* One whole-file read: the file at `path` into `into`, by the rule read_one documents. */
typedef struct {
  char *path;
  uint8_t *into;
  size_t capacity;
  size_t expected;
  size_t got;
  int error;           /* errno, 0 on success */
  const char *syscall; /* the call that failed */
} read_item;

/*
 * Opens item->path (O_NOFOLLOW) and reads it into item->into until that is full, the file ends,
 * or a short read completes item->expected bytes; sets got, or error and syscall. Any thread.
 */
void read_one(read_item *item);

/* Throws an Error like Node's fs errors: message strerror(err), `code` its name, `syscall`. */
void throw_errno(napi_env env, int err, const char *syscall_name);

/* Adds readFiles to `exports`; 0 on failure. */
int read_file_register(napi_env env, napi_value exports);
#endif
