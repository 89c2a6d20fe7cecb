#!/usr/bin/env node
// tld: manage the host's task-local-data map.
import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadObject, names, objectPaths, unpin } from '@tld/bpf-programs';
import { DEFAULT_PIN_PATH, TaskLocalData, TldError } from '@tld/userspace';

const HELP = `Usage: tld <command> [--pin PATH] [--json]

Commands:
  map create   create the task-storage map tld_data_map and pin it (mode 0600); an existing compatible pin is kept
  map check    open the pinned map as @tld/userspace does: type, value size, uptr support, pin mode
  map remove   unpin the map (BPF programs that hold it keep their copy)

Options:
  --pin PATH   where the map is pinned (default ${DEFAULT_PIN_PATH})
  --json       print the result as JSON
  -h, --help   this text

Exit status: 0 on success, 1 when the command failed, 2 for a usage error.`;

function usageError(message) {
  console.error(`tld: ${message}\n\n${HELP}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      pin: { type: 'string', default: DEFAULT_PIN_PATH },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (error) {
  usageError(error.message);
}
const { values: opts, positionals } = parsed;
if (opts.help || positionals.length === 0) {
  console.log(HELP);
  process.exit(opts.help ? 0 : 2);
}

const commands = { 'map create': createMap, 'map check': checkMap, 'map remove': removeMap };
const command = commands[positionals.join(' ')];
if (!command) usageError(`unknown command '${positionals.join(' ')}'`);
if (!opts.pin.startsWith('/sys/fs/bpf/')) usageError(`--pin must be a path under /sys/fs/bpf/, got ${opts.pin}`);

try {
  report(command(opts.pin));
} catch (error) {
  if (opts.json) {
    console.log(JSON.stringify({ ok: false, code: error.code ?? null, message: error.message }, null, 2));
  } else {
    console.error(`tld: ${error.message}${error.code ? ` [${error.code}]` : ''}`);
  }
  process.exit(1);
}

function report(result) {
  if (opts.json) console.log(JSON.stringify({ ok: true, ...result }, null, 2));
  else console.log(result.message);
}

function pinMode(path) {
  return `0${(statSync(path).mode & 0o777).toString(8)}`;
}

/** Loads the reader object with tld_data_map pinned by path: libbpf reuses a compatible pin or creates it. */
function createMap(pin) {
  const existed = existsSync(pin);
  const object = loadObject(objectPaths.reader, { [names.dataMap]: { pinPath: pin } });
  object.close(); // the pin keeps the map alive
  const mode = pinMode(pin);
  return {
    pin,
    created: !existed,
    mode,
    message: existed ? `${pin} already holds a compatible map (mode ${mode}): kept it` : `created ${pin} (mode ${mode})`,
  };
}

/** Opens the map exactly as applications do, which checks type, value size and uptr support. */
function checkMap(pin) {
  const tld = TaskLocalData.open({ pinPath: pin });
  const { mapId, valueSize } = tld;
  tld.close();
  const mode = pinMode(pin);
  const loose = (statSync(pin).mode & 0o077) !== 0;
  return {
    pin,
    mapId,
    valueSize,
    mode,
    looseMode: loose,
    message:
      `${pin}: map id ${mapId}, task storage, value ${valueSize} bytes, uptr pages accepted; mode ${mode}` +
      (loose ? ` — too loose: run chmod 600 ${pin}` : ''),
  };
}

function removeMap(pin) {
  if (!existsSync(pin)) {
    throw new TldError('ERR_TLD_NO_MAP', `nothing is pinned at ${pin}`);
  }
  unpin(pin);
  return { pin, removed: true, message: `removed ${pin}` };
}
