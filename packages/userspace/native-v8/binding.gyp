{
  "targets": [
    {
      "target_name": "tld_v8_walk",
      "sources": ["walk.cc"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-fvisibility=hidden", "-fno-exceptions", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-Wno-cast-function-type"]
    }
  ]
}
