// Services the tests of several packages run as child processes.
import { fileURLToPath } from 'node:url';

/**
 * fixtures/burn-service.mjs: burns known CPU per route in named functions on its main thread, with run() or set()
 * requests, and reports what it measured itself (usage in the file).
 */
export const burnServicePath = fileURLToPath(new URL('../fixtures/burn-service.mjs', import.meta.url));
