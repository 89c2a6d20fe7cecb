#!/usr/bin/env node
// `pnpm demo`: CPU time by route measured by BPF programs (run-profile.ts), or with --basic the first step, BPF
// reading back what threads published (basic.ts). Usage errors exit 2 with the usage; failures exit 1 with one
// clear line (set TLD_DEBUG=1 for the stack).
import { TldError } from '@tld/protocol';
import { HELP, USAGE, UsageError, parseDemoArgs } from './args.js';
import { runBasic } from './basic.js';
import { DemoError, runProfile } from './run-profile.js';

async function main(): Promise<number> {
  let opts;
  try {
    opts = parseDemoArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n${USAGE}\nRun with --help for every option.\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  try {
    return await (opts.basic ? runBasic(opts) : runProfile(opts));
  } catch (error) {
    if (process.env['TLD_DEBUG'] === '1') throw error;
    // TldError covers BpfSyscallError and NotSupportedError.
    if (error instanceof DemoError || error instanceof TldError) {
      const code = error instanceof TldError ? ` [${error.code}]` : '';
      process.stderr.write(`error${code}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

const code = await main();
process.exitCode = code;
// Whatever handle is left (a stuck worker) must not keep the demo alive: everything BPF was closed already.
setTimeout(() => process.exit(code), 2000).unref();
