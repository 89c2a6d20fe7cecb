// Writes the generated header (include/tld_reader.h) from the built package.
// Run through `pnpm gen` (every generator of the workspace).
import { writeFileSync } from 'node:fs';
import { renderReaderHeader } from '../dist/reader-header.js';

/** @type {Array<[string, string]>} */
const headers = [['tld_reader.h', renderReaderHeader()]];
for (const [name, text] of headers) {
  const target = new URL(`../include/${name}`, import.meta.url);
  writeFileSync(target, text);
  console.log(`wrote ${target.pathname}`);
}
