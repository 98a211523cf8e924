{
  "targets": [
    {
      "target_name": "tsquashfs_native",
      "sources": ["tsquashfs_native.c", "xxh64.c", "read-file.c", "read-queue.c", "list-dir.c", "huge-pages.c", "xz-encode.c", "zero-bytes.c", "copy-bytes.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
