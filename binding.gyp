{
  "targets": [
    {
      "target_name": "probe_io",
      "sources": ["probes/native/probe_io.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
