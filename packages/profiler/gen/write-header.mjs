// Writes include/tld_profiler.h from the built package. Run through `pnpm gen`.
import { writeFileSync } from 'node:fs';
import { renderProfilerHeader } from '../dist/layout.js';

const target = new URL('../include/tld_profiler.h', import.meta.url);
writeFileSync(target, renderProfilerHeader());
console.log(`wrote ${target.pathname}`);
