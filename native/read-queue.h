/* read-queue.c: a reader thread for small host files, fed ahead of need and drained in order. */
#ifndef TSQUASHFS_READ_QUEUE_H
#define TSQUASHFS_READ_QUEUE_H
#include <node_api.h>

/* Adds createReadQueue, readQueueSubmit and readQueueCollect to `exports`; 0 on failure. */
int read_queue_register(napi_env env, napi_value exports);
#endif
