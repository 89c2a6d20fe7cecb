// Writes include/tld_reader.h from the built package. Run through `pnpm --filter @tld/bpf-programs gen`.
import { writeFileSync } from 'node:fs';
import { renderReaderHeader } from '../dist/ctx-layout.js';

const target = new URL('../include/tld_reader.h', import.meta.url);
writeFileSync(target, renderReaderHeader());
console.log(`wrote ${target.pathname}`);
