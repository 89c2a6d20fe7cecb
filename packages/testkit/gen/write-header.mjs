// Writes include/tld_testkit.h from the built package. Run through `pnpm gen`.
import { writeFileSync } from 'node:fs';
import { renderTestkitHeader } from '../dist/layout.js';

const target = new URL('../include/tld_testkit.h', import.meta.url);
writeFileSync(target, renderTestkitHeader());
console.log(`wrote ${target.pathname}`);
