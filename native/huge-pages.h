/* adviseHugePages of huge-pages.c: transparent huge pages for large buffers not yet touched. */
#ifndef TSQUASHFS_HUGE_PAGES_H
#define TSQUASHFS_HUGE_PAGES_H
#include <node_api.h>

/* Adds adviseHugePages to `exports`; 0 on failure. */
int huge_pages_register(napi_env env, napi_value exports);
#endif
