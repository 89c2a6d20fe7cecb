// Run at install by node-gyp-build (package.json "prebuild.test"): exits 0 when the prebuilt loader addon fits this
// machine, so no source build happens. An addon that only lacks libbpf's runtime library fits too: a source build
// would link the same library, and the package's load error names the package to install.
'use strict';
const path = require('node:path');

const addon = require('node-gyp-build').path(path.join(__dirname));
try {
  require(addon);
} catch (error) {
  const missing = /(lib(?:bpf|elf|z)\.so\.\d+): cannot open shared object file/.exec(String(error));
  if (!missing) throw error;
  console.warn(
    `@tld/bpf-programs: ${missing[1]} is not installed; install libbpf's runtime library before use ` +
      '(Debian and Ubuntu: apt-get install libbpf1; Fedora and RHEL: dnf install libbpf)',
  );
}
