{
  "targets": [{
    "target_name": "dbos_fuse",
    "sources": ["dbos_fuse.c"],
    "cflags": ["<!@(pkg-config --cflags fuse)", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "libraries": ["<!@(pkg-config --libs fuse)"]
  }]
}
