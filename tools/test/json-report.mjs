// vitest's JSON reporter under a path of its own, for `vitest --reporter=<this file> --outputFile.json=<path>`:
// a package config's `['json', { outputFile }]` would otherwise win over the command line's --outputFile, and a
// nested run would overwrite that package's .vitest/results.json, which `pnpm test`'s closing line reads.
export { JsonReporter as default } from 'vitest/reporters';
