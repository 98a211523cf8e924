/* xzEncode of xz-encode.c: .xz streams with the system liblzma, as mksquashfs makes them. */
#ifndef TSQUASHFS_XZ_ENCODE_H
#define TSQUASHFS_XZ_ENCODE_H
#include <node_api.h>

/* Adds xzEncode and lzmaVersion to `exports` where liblzma.so.5 opens; 0 on failure. */
int xz_encode_register(napi_env env, napi_value exports);
#endif
