#!/usr/bin/env node
// The `tld` executable (package.json "bin").
import { run } from './program.js';

// Warnings, such as the library's TldSecurityWarning for a pin others may open, in tld's own words.
process.removeAllListeners('warning');
process.on('warning', (warning) => process.stderr.write(`tld: warning: ${warning.message}\n`));

// A reader that went away (tld dump | head) ends tld quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit();
});

process.exitCode = await run(process.argv);
