/* listDir of list-dir.c: a directory's names and the lstat of each, in one threadpool job;
 * xattrListSize: one path's xattr name list size. */
#ifndef TSQUASHFS_LIST_DIR_H
#define TSQUASHFS_LIST_DIR_H
#include <node_api.h>

/* Adds listDir and xattrListSize to `exports`; 0 on failure. */
int list_dir_register(napi_env env, napi_value exports);
#endif
