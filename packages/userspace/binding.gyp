{
  "targets": [
    {
      "target_name": "tld_userspace",
      "sources": ["native/syscalls.cc", "native/pages.cc", "native/registrations.cc", "native/addon.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"path.dirname(require.resolve('@tld/protocol/include/tld_layout.h'))\")",
        "<!(node -p \"path.dirname(require.resolve('@tld/native/include/tld_napi.h'))\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-fno-exceptions", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}
