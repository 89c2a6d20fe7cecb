// Child process of walk.test.ts, run on each Node.js under .cache/node (plain JavaScript on the built package).
// It opens TaskLocalData with ASYNC_CONTEXT, and when the walk is in use it checks, at checkpoints of interleaved
// runs (await, timers, setImmediate, nextTick, fs/promises, an EventEmitter, a worker thread), what a reader
// sees: the facts read back from this thread's real data page through /proc/self/mem, the walk over V8's memory
// from the CPED slot they name (native, so no GC moves objects mid-walk), and the record it reaches, read through
// /proc/self/mem. Prints one JSON line; walk.test.ts judges it.
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CTX_RECORD, WALK_KEY_NAME, WALK_SIZE, WALK_STRUCT, decodeWalk } from '@tld/protocol';
import { loadAddon } from './addon.mjs';

const require = createRequire(import.meta.url);
const ALS_ADDRESS = WALK_STRUCT.at('als_address').offset;
/** @type {unknown} */
const loaded = require('node-gyp-build');
const nodeGypBuild = /** @type {(dir: string) => { walk(facts: Uint8Array): bigint }} */ (loaded);
const walkAddon = nodeGypBuild(fileURLToPath(new URL('../native-v8/', import.meta.url)));
const native = loadAddon();
const { TaskLocalData } = await import('../dist/index.js');

/** @typedef {{ pin: string, mode: string }} Data */
/** @type {unknown} */
const passed = workerData;
const data = isMainThread
  ? { pin: process.env['PIN'] ?? '', mode: process.env['ASYNC_CONTEXT'] ?? 'auto' }
  : /** @type {Data} */ (passed);
const mem = openSync('/proc/self/mem', 'r');

/** JSON.stringify replacer: bigints as strings. */
function plain(/** @type {string} */ _key, /** @type {unknown} */ value) {
  return typeof value === 'bigint' ? String(value) : value;
}

/** `length` bytes of this process's memory at `address`. */
function peek(/** @type {bigint} */ address, /** @type {number} */ length) {
  const out = Buffer.alloc(length);
  if (readSync(mem, out, 0, length, address) !== length) throw new Error(`short read at ${address}`);
  return out;
}

/** @type {Record<string, unknown>} */
const report = {};
/** @type {import('../dist/index.js').TaskLocalData} */
let tld;
try {
  tld = TaskLocalData.open({ pinPath: data.pin, asyncContext: /** @type {'auto'} */ (data.mode) });
} catch (error) {
  const { code, message } = /** @type {{ code?: string, message: string }} */ (error);
  console.log(JSON.stringify({ openError: { code, message } }));
  process.exit(0);
}
report['asyncContext'] = tld.asyncContext;
report['reason'] = tld.asyncContextReason ?? null;
if (tld.asyncContext !== 'walk') {
  // The page mechanism still works here (hooks installed at the first run()).
  const reqId = tld.u64('req_id');
  report['pageRun'] = String(
    await tld.run({ req_id: 3n }, async () => {
      await Promise.resolve();
      return reqId.get();
    }),
  );
  finish();
} else {
  const reqId = tld.u64('req_id');
  const route = tld.string('route', 32);
  const tenant = tld.u32('tenant');
  reqId.set(7n);
  route.set('/thread');
  tenant.set(5);
  const offsets = Object.fromEntries(tld.keys().map((k) => [k.name, k.offset]));

  // The facts as a reader finds them: in this thread's registered page, under the key tld.walk.
  const pageAddress = native.threadDataPageAddress();
  const start = peek(pageAddress, 8).readBigUInt64LE(0);
  const walkAt = pageAddress + start + BigInt(/** @type {number} */ (offsets[WALK_KEY_NAME]));
  const factBytes = () => new Uint8Array(peek(walkAt, WALK_SIZE));
  const facts = decodeWalk(factBytes());
  report['facts'] = {
    ...facts,
    cpedSlot: String(facts.cpedSlot),
    noFrame: String(facts.noFrame),
    recordMagic: String(facts.recordMagic),
    alsAddress: String(facts.alsAddress),
  };
  report['pageThreadValues'] = [
    peek(pageAddress + start + BigInt(/** @type {number} */ (offsets['req_id'])), 8)
      .readBigUInt64LE(0)
      .toString(),
  ];

  /** What a reader gets for the current context: 'page', a record's values, or 'broken'. */
  const read = (/** @type {Uint8Array} */ bytes = factBytes()) => {
    const record = walkAddon.walk(bytes);
    if (record === 0n) return { kind: 'page' };
    if (record < 0n) return { kind: 'broken' };
    const header = peek(record, 64);
    const magic = header.readBigUInt64LE(CTX_RECORD.MAGIC);
    const self = header.readBigUInt64LE(CTX_RECORD.SELF);
    const valid = header.readUInt8(CTX_RECORD.VALID);
    const seq = header.readUInt32LE(CTX_RECORD.SEQ);
    const valuesOff = header.readUInt32LE(CTX_RECORD.VALUES_OFF);
    const valuesSize = header.readUInt32LE(CTX_RECORD.VALUES_SIZE);
    const presentOff = header.readUInt32LE(CTX_RECORD.PRESENT_OFF);
    if (magic !== facts.recordMagic || self !== record || valid !== 1 || seq % 2 !== 0)
      return { kind: 'invalid', record, valid };
    const bitmap = peek(record + BigInt(presentOff), valuesOff - presentOff);
    const values = peek(record + BigInt(valuesOff), valuesSize);
    /** @param {string} name */
    const present = (name) => {
      const word = /** @type {number} */ (offsets[name]) / 8;
      return ((bitmap[word >> 3] ?? 0) & (1 << (word & 7))) !== 0;
    };
    /** @param {string} name */
    const at = (name) => /** @type {number} */ (offsets[name]);
    const routeBytes = values.subarray(at('route'), at('route') + 32);
    const nul = routeBytes.indexOf(0);
    return {
      kind: 'record',
      record,
      reqId: present('req_id') ? values.readBigUInt64LE(at('req_id')) : null,
      route: present('route') ? routeBytes.subarray(0, nul < 0 ? 32 : nul).toString() : null,
      tenant: present('tenant') ? values.readUInt32LE(at('tenant')) : null,
    };
  };

  report['outside'] = read().kind;
  let checkpoints = 0;
  /** @type {string[]} */
  const wrong = [];
  const expect = (/** @type {string} */ where, /** @type {bigint} */ id, /** @type {string} */ path) => {
    checkpoints++;
    const seen = read();
    if (seen.kind !== 'record' || seen.reqId !== id || seen.route !== path || seen.tenant !== null) {
      wrong.push(`${where}: wanted ${id} ${path}, got ${JSON.stringify(seen, plain)}`);
    }
    if (reqId.get() !== id || route.get() !== path || tenant.get() !== 5) wrong.push(`${where}: get() disagrees`);
  };
  const emitter = new EventEmitter();
  const self = fileURLToPath(import.meta.url);
  /** @type {bigint[]} */
  const ended = [];
  const tasks = Array.from({ length: 64 }, (_, i) => {
    const id = BigInt(1000 + i);
    return tld.run({ req_id: id, route: `/task/${i}` }, async () => {
      expect('start', id, `/task/${i}`);
      await Promise.resolve();
      expect('await', id, `/task/${i}`);
      await sleep(1);
      expect('setTimeout', id, `/task/${i}`);
      await immediate();
      expect('setImmediate', id, `/task/${i}`);
      await new Promise((resolve) => process.nextTick(resolve));
      expect('nextTick', id, `/task/${i}`);
      await readFile(self);
      expect('fs/promises', id, `/task/${i}`);
      await new Promise((resolve) => {
        emitter.once(`go${i}`, () => {
          expect('EventEmitter', id, `/task/${i}`);
          resolve(undefined);
        });
        setImmediate(() => emitter.emit(`go${i}`));
      });
      // set() inside the run goes to the record (seqlock) and its continuations see it; the page does not change.
      reqId.set(id + 1_000_000n);
      await sleep(1);
      expect('after set()', id + 1_000_000n, `/task/${i}`);
      await tld.run({ route: `/nested/${i}` }, async () => {
        await immediate();
        expect('nested run', id + 1_000_000n, `/nested/${i}`);
      });
      expect('after nested run', id + 1_000_000n, `/task/${i}`);
      const seen = read();
      if (seen.kind === 'record' && seen.record !== undefined) ended.push(seen.record);
    });
  });
  // Between callbacks, outside every run: the reader uses the page.
  /** @type {string[]} */
  const between = [];
  for (let hop = 0; hop < 5; hop++) {
    await sleep(1);
    between.push(read().kind);
  }
  await Promise.all(tasks);
  report['checkpoints'] = checkpoints;
  report['wrong'] = wrong.slice(0, 10);
  report['wrongCount'] = wrong.length;
  report['between'] = [...new Set(between)];
  report['after'] = read().kind;
  report['threadValues'] = [reqId.get().toString(), route.get(), tenant.get()];
  report['pageAfter'] = peek(pageAddress + start + BigInt(/** @type {number} */ (offsets['req_id'])), 8)
    .readBigUInt64LE(0)
    .toString();
  // Each ended run's record says so.
  report['endedValid'] = [...new Set(ended.map((record) => peek(record + BigInt(CTX_RECORD.VALID), 1)[0]))];
  // A sync run's record is cleared when fn returns; one that throws too.
  /** @type {unknown} */
  let syncRecord = null;
  tld.run({ req_id: 9n }, () => {
    const seen = read();
    syncRecord = seen.kind === 'record' ? seen.record : seen.kind;
  });
  report['syncValidAfter'] =
    typeof syncRecord === 'bigint' ? peek(syncRecord + BigInt(CTX_RECORD.VALID), 1)[0] : syncRecord;
  // Control: corrupted facts (another identity hash, another table offset) give no value, never a wrong one.
  /** @type {string[]} */
  const corrupted = [];
  await tld.run({ req_id: 11n }, async () => {
    await Promise.resolve();
    const good = factBytes();
    for (const [at, delta] of /** @type {[number, number][]} */ ([
      [4, 1],
      [34, 8],
      [52, 8],
      [42, -8],
      [32, 8],
    ])) {
      const bad = good.slice();
      const view = new DataView(bad.buffer);
      if (at === 4) view.setUint32(at, view.getUint32(at, true) + delta, true);
      else view.setUint16(at, view.getUint16(at, true) + delta, true);
      view.setBigUint64(ALS_ADDRESS, 0n, true); // no address: the hash words decide, as while a GC runs
      corrupted.push(read(bad).kind);
    }
    corrupted.push(read(good).kind);
  });
  report['corrupted'] = corrupted;
  // The published address follows the AsyncLocalStorage through GCs (the addon's GC callbacks): with its hash word
  // made useless (a bit above every bucket index flipped), only the address can find our entry.
  /** @type {string[]} */
  const byAddress = [];
  await tld.run({ req_id: 12n }, async () => {
    for (let round = 0; round < 3; round++) {
      globalThis.gc?.({ type: 'minor' });
      globalThis.gc?.();
      await Promise.resolve();
      const bytes = factBytes();
      const view = new DataView(bytes.buffer);
      view.setUint32(4, view.getUint32(4, true) ^ (1 << 20), true);
      byAddress.push(view.getBigUint64(ALS_ADDRESS, true) === 0n ? 'no address' : read(bytes).kind);
    }
  });
  report['byAddress'] = byAddress;
  if (isMainThread) {
    // A worker has its own Isolate: it finds and publishes its own facts on its own page.
    report['worker'] = await new Promise((resolve, reject) => {
      const worker = new Worker(self, { workerData: data });
      worker.once('message', (/** @type {string} */ text) => resolve(JSON.parse(text)));
      worker.once('error', reject);
    });
  }
  finish();
}

function finish() {
  if (isMainThread) {
    // No async hook and no V8 promise hook is set, by anyone: Node's own bookkeeping (--expose-internals).
    const internal = /** @type {(id: string) => unknown} */ (require);
    const hooks = /** @type {{ getHookArrays(): [unknown[]] }} */ (internal('internal/async_hooks'));
    const binding = /** @type {{ internalBinding(name: string): { getPromiseHooks(): unknown[] } }} */ (
      internal('internal/test/binding')
    );
    const promiseHooks = binding.internalBinding('async_wrap').getPromiseHooks();
    report['asyncHooks'] = hooks.getHookArrays()[0].length;
    report['promiseHooks'] = promiseHooks.filter((hook) => hook !== undefined).length;
  }
  closeSync(mem);
  const text = JSON.stringify(report, plain);
  if (isMainThread) console.log(text);
  else parentPort?.postMessage(text);
}
