// Configuration from the environment. TLD_PIN names the pin wherever none is given: an explicit pinPath (or mapFd)
// wins, then TLD_PIN, then DEFAULT_PIN_PATH. The tld command reads the same variable, so one export points the
// application and the CLI at the same map.
import { isAbsolute } from 'node:path';
import { DEFAULT_PIN_PATH } from '@tld/protocol';
import { invalidArgValue } from './errors.js';

/** Name of the environment variable that names the pin. */
export const PIN_ENV = 'TLD_PIN';

/**
 * The pin used when none is given: `$TLD_PIN` when it is set, else DEFAULT_PIN_PATH (/sys/fs/bpf/tld_data_map).
 * Throws TypeError ERR_INVALID_ARG_VALUE when TLD_PIN is set but not an absolute file path (an empty value
 * included, as the tld command refuses it too).
 */
export function defaultPinPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const value = env[PIN_ENV];
  if (value === undefined) return DEFAULT_PIN_PATH;
  if (!isAbsolute(value) || value.endsWith('/') || value.includes('\0')) {
    throw invalidArgValue(
      `${PIN_ENV}=${JSON.stringify(value)} is not an absolute file path: set it to the path of a pinned map on ` +
        `bpffs, like ${DEFAULT_PIN_PATH}, or unset it to use that default`,
    );
  }
  return value;
}
