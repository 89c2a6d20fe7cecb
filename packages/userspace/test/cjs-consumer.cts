// Type test (pnpm lint's tsc, never run): a CommonJS TypeScript file require()s the ESM-only package with
// "module": "nodenext" (TypeScript 5.8+ types require(esm)), with the package's own types.
import userspace = require('@tld/userspace');

function openTyped(pinPath: string): userspace.U64Key {
  const tld: userspace.TaskLocalData = userspace.TaskLocalData.open({ pinPath });
  return tld.define({ req_id: 'u64' }).keys.req_id;
}

export = { openTyped };
