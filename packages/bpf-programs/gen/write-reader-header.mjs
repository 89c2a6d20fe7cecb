// Writes the generated headers (include/tld_reader.h, include/tld_profile.h) from the built package.
// Run through `pnpm gen` (every generator of the workspace).
import { writeFileSync } from 'node:fs';
import { READER_HEADER_COMMAND, renderReaderHeader } from '../dist/reader-header.js';
import { renderProfileHeader } from '../dist/profile-layout.js';

/** @type {Array<[string, string]>} */
const headers = [
  ['tld_reader.h', renderReaderHeader()],
  ['tld_profile.h', renderProfileHeader(READER_HEADER_COMMAND)],
];
for (const [name, text] of headers) {
  const target = new URL(`../include/${name}`, import.meta.url);
  writeFileSync(target, text);
  console.log(`wrote ${target.pathname}`);
}
