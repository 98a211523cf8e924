/* lstatMany of lstat-many.c: lstat of one directory's entries, many per threadpool job. */
#ifndef TSQUASHFS_LSTAT_MANY_H
#define TSQUASHFS_LSTAT_MANY_H
#include <node_api.h>

/* Adds lstatMany to `exports`; 0 on failure. */
int lstat_many_register(napi_env env, napi_value exports);
#endif
