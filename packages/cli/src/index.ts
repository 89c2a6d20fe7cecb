// tld as a library: run it with an argv, or read value bytes the way `tld dump` does.
export { run, createProgram } from './program.js';
export { ExitCode } from './output.js';
export { CliError, CliErrorCode } from './errors.js';
export type { RunState } from './output.js';
export { readValue } from './values.js';
export type { ValueReadings } from './values.js';
export { statusChecks } from './commands/status.js';
export type { Check } from './commands/status.js';
