{
  "targets": [
    {
      "target_name": "tsquashfs_native",
      "sources": ["tsquashfs_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
