{
  "targets": [
    {
      "target_name": "tld_loader",
      "sources": ["native/loader.cc", "native/inspect.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"path.dirname(require.resolve('@tld/native/include/tld_napi.h'))\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"],
      "libraries": ["-lbpf"]
    }
  ]
}
