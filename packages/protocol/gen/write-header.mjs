// Writes include/tld_layout.h from the built protocol package. Run through `pnpm gen` (every generator of the workspace).
import { writeFileSync } from 'node:fs';
import { renderLayoutHeader } from '../dist/index.js';

const target = new URL('../include/tld_layout.h', import.meta.url);
writeFileSync(target, renderLayoutHeader());
console.log(`wrote ${target.pathname}`);
