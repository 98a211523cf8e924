/* readFiles of read-file.c: open + read + close of small host files, several per threadpool job. */
#ifndef TSQUASHFS_READ_FILE_H
#define TSQUASHFS_READ_FILE_H
#include <node_api.h>

/* Adds readFiles to `exports`; 0 on failure. */
int read_file_register(napi_env env, napi_value exports);
#endif
