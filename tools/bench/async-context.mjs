#!/usr/bin/env node
// What tld.run() costs (issue 8). Self-contained: `node tools/bench/async-context.mjs [--trials N] [--json]`, as root
// (the TLD side writes into a real, private tld_data_map). Every trial runs in fresh processes.
//   switch  ns per hop (await, setImmediate) inside run({ 2 keys }) — each hop leaves and re-enters the context,
//           writing both keys — against the same hop in the same process before its first run(); the hop outside
//           any run once run() was used (what the rest of the process pays); set() before/after/inside run().
//   http    loopback node:http servers whose requests await twice, driven with 64 connections by a load generator
//           in another process: requests/s and server CPU per request with no task local data (the baseline),
//           set() per request, run() per request, run() used once at start-up only (the hooks' cost), and
//           AsyncLocalStorage.run() per request without task local data (Node's own share).
import { AsyncLocalStorage } from 'node:async_hooks';
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { cpus, release } from 'node:os';
import { setImmediate as immediate } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const CONNECTIONS = 64;

/**
 * @typedef {{ name: string, unit: string, median: number, min: number, max: number, baseline: number,
 *   ratio: number, trials: number[] }} Result  `trials`: the value of each trial; ratio: median of per-trial ratios
 * @typedef {Record<string, number>} Sample  one trial's numbers by measurement name
 * @typedef {'none' | 'set' | 'run' | 'als' | 'hooks'} Mode  what the HTTP server does per request ('hooks':
 *   nothing, but run() was called once at start-up, so this thread's hooks are installed)
 */

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? /** @type {number} */ (s[m]) : (/** @type {number} */ (s[m - 1]) + /** @type {number} */ (s[m])) / 2;
}

/** Opens a private map and this thread's TaskLocalData with the two keys the runs give. */
async function openTld() {
  const { loadReader } = await import('@tld/bpf-programs');
  const { TaskLocalData, asyncContextMechanism } = await import('@tld/userspace');
  const reader = loadReader({ map: 'private' });
  const tld = TaskLocalData.open({ mapFd: reader.mapFd });
  const reqId = tld.u64('req_id');
  const route = tld.string('route', 32);
  reqId.set(1n);
  route.set('/thread');
  return { reader, tld, reqId, route, asyncContextMechanism };
}

// --- switch: one fresh process per trial -------------------------------------------------------------------------

/** @param {number} n */
async function awaitHops(n) {
  for (let i = 0; i < n; i++) await Promise.resolve(); // a bare await: one promise-reaction hop
}

/** @param {number} n @returns {Promise<void>} */
function immediateHops(n) {
  return new Promise((resolve) => {
    let i = 0;
    const step = () => (++i < n ? setImmediate(step) : resolve());
    setImmediate(step);
  });
}

/** Nanoseconds per unit of `fn(n)`. @param {(n: number) => unknown} fn @param {number} n */
async function perOp(fn, n) {
  const t0 = process.hrtime.bigint();
  await fn(n);
  return Number(process.hrtime.bigint() - t0) / n;
}

/**
 * Median of `rounds` alternating measurements of each function.
 * @param {Record<string, (n: number) => unknown>} fns @param {number} n @param {number} rounds
 */
async function alternate(fns, n, rounds) {
  /** @type {Record<string, number[]>} */
  const runs = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fns)) runs[name]?.push(await perOp(fn, n));
  }
  return Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
}

async function switchTrial() {
  const { reader, tld, reqId, route, asyncContextMechanism } = await openTld();
  const HOPS = 100_000;
  const SETS = 1_000_000;
  const plain = new BigUint64Array(1);
  /** @param {number} n */
  const storeLoop = (n) => {
    for (let i = 0; i < n; i++) plain[0] = BigInt(i & 1023);
  };
  /** @param {number} n */
  const setLoop = (n) => {
    for (let i = 0; i < n; i++) reqId.set(BigInt(i & 1023));
  };
  const inRun = { req_id: 2n, route: '/users/:id' }; // both keys differ from the thread's values
  const fns = {
    awaitPlain: awaitHops,
    immediatePlain: immediateHops,
    store: storeLoop,
    set: setLoop,
  };
  for (let w = 0; w < 3; w++) await alternate(fns, HOPS / 4, 1); // warm-up: through the JIT tiers
  // Before the first run(): nothing installed — the baseline.
  const before = await alternate({ awaitPlain: awaitHops, immediatePlain: immediateHops }, HOPS, 9);
  const setBefore = await alternate({ store: storeLoop, set: setLoop }, SETS, 9);
  tld.run(inRun, () => undefined); // installs the hooks
  const afterFns = {
    awaitOutside: awaitHops,
    awaitInRun: (/** @type {number} */ n) => tld.run(inRun, () => awaitHops(n)),
    immediateOutside: immediateHops,
    immediateInRun: (/** @type {number} */ n) => tld.run(inRun, () => immediateHops(n)),
  };
  await alternate(afterFns, HOPS / 4, 1);
  const after = await alternate(afterFns, HOPS, 9);
  const setInRun = (/** @type {number} */ n) => tld.run(inRun, () => setLoop(n));
  const setAfter = await alternate({ store: storeLoop, set: setLoop, setInRun }, SETS, 9);
  // The page holds the thread's values again, and the BPF reader agrees.
  const last = (SETS - 1) & 1023; // the last value set() stored outside the runs
  const read = reader.read(['req_id']).values['req_id'];
  if (reqId.get() !== BigInt(last) || route.get() !== '/thread' || read?.[0] !== (last & 0xff) || read[1] !== last >> 8) {
    throw new Error(`after the runs the page does not hold the thread values: ${reqId.get()} ${route.get()} ${String(read)}`);
  }
  const mechanism = asyncContextMechanism();
  tld.close();
  reader.close();
  return {
    mechanism,
    sample: {
      awaitPlain: before['awaitPlain'], immediatePlain: before['immediatePlain'], ...after,
      store: setBefore['store'], setBefore: setBefore['set'], storeAfter: setAfter['store'], setAfter: setAfter['set'],
      setInRun: setAfter['setInRun'],
    },
  };
}

// --- http: one server process per mode, one load generator driving them in turn --------------------------------
// The machine may be shared: the load generator drives the servers in short bursts, round-robin, so a slow patch
// hits every mode alike. Between its bursts a server idles (no CPU), so its CPU time since the mark is its CPU
// time for the requests of its bursts.

/** @param {Mode} mode */
async function httpServer(mode) {
  const { tld, reqId, route } = await openTld();
  /** @type {AsyncLocalStorage<{ reqId: bigint, route: string }>} */
  const als = new AsyncLocalStorage();
  let served = 0;
  /** @param {import('node:http').ServerResponse} res */
  const handle = async (res) => {
    await immediate();
    await immediate();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
    served += 1;
  };
  const server = createServer((_req, res) => {
    const id = BigInt(served);
    if (mode === 'run') {
      void tld.run({ req_id: id, route: '/users/:id' }, () => handle(res));
    } else if (mode === 'als') {
      void als.run({ reqId: id, route: '/users/:id' }, () => handle(res));
    } else {
      if (mode === 'set') {
        reqId.set(id);
        route.set('/users/:id');
      }
      void handle(res);
    }
  });
  server.keepAliveTimeout = 600_000;
  if (mode === 'hooks') tld.run({ req_id: 0n }, () => undefined);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  let mark = { cpu: process.cpuUsage(), served: 0 };
  process.on('message', (/** @type {string} */ m) => {
    if (m === 'mark') {
      mark = { cpu: process.cpuUsage(), served };
      process.send?.('marked');
    } else if (m === 'report') {
      const cpu = process.cpuUsage(mark.cpu);
      const requests = served - mark.served;
      server.close();
      server.closeAllConnections();
      tld.close();
      process.send?.({ cpuUsPerRequest: (cpu.user + cpu.system) / requests, requests }, () => process.disconnect());
    }
  });
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
}

/**
 * CONNECTIONS keep-alive connections to each port; `rounds` rounds of one `burstMs` burst per server (order
 * rotated), each connection with one request in flight; a burst ends when its last response arrived.
 * @param {number[]} ports @param {number} rounds @param {number} burstMs
 */
async function httpLoad(ports, rounds, burstMs) {
  const request = Buffer.from('GET /users/1 HTTP/1.1\r\nhost: bench\r\n\r\n');
  const end = '\r\n\r\nok'; // a response ends with the header terminator and the body "ok"
  const clients = await Promise.all(ports.map(async (port) => {
    const sockets = Array.from({ length: CONNECTIONS }, () => connect(port, '127.0.0.1'));
    await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once('connect', resolve))));
    const client = { sockets, requests: 0, ms: 0, onResponse: /** @type {(socket: import('node:net').Socket) => void} */ (() => {}) };
    for (const socket of sockets) {
      socket.setNoDelay(true);
      let tail = '';
      socket.on('data', (chunk) => {
        const text = tail + chunk.toString('latin1');
        for (let at = text.indexOf(end); at !== -1; at = text.indexOf(end, at + end.length)) client.onResponse(socket);
        tail = text.slice(-end.length);
      });
    }
    return client;
  }));
  /** @param {typeof clients[number]} client @param {number} ms @returns {Promise<{ done: number, ms: number }>} */
  const burst = (client, ms) => new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let stop = false;
    let inFlight = CONNECTIONS;
    let done = 0;
    client.onResponse = (socket) => {
      done += 1;
      if (!stop) socket.write(request);
      else if (--inFlight === 0) resolve({ done, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    };
    setTimeout(() => { stop = true; }, ms);
    for (const socket of client.sockets) socket.write(request);
  });
  for (const client of clients) await burst(client, 2 * burstMs); // warm-up
  process.send?.('warm');
  await new Promise((resolve) => process.once('message', resolve));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < clients.length; i++) {
      const client = clients[(i + round) % clients.length];
      if (!client) continue;
      const { done, ms } = await burst(client, burstMs);
      client.requests += done;
      client.ms += ms;
    }
  }
  for (const client of clients) for (const socket of client.sockets) socket.destroy();
  return clients.map(({ requests, ms }) => ({ requests, ms }));
}

/** @param {string[]} args @returns {import('node:child_process').ChildProcess} */
function child(args) {
  return fork(SELF, ['--child', ...args], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** @param {import('node:child_process').ChildProcess} proc @returns {Promise<unknown>} */
function nextMessage(proc) {
  return new Promise((resolve, reject) => {
    proc.once('message', resolve);
    proc.once('exit', (code) => reject(new Error(`child exited (${code}) before answering`)));
  });
}

/**
 * One trial: a fresh server per mode, driven in turn.
 * @param {Mode[]} modes @param {number} rounds @param {number} burstMs @returns {Promise<Sample[]>}
 */
async function httpTrial(modes, rounds, burstMs) {
  const servers = modes.map((mode) => child(['http-server', mode]));
  const ports = await Promise.all(
    servers.map(async (server) => /** @type {{ port: number }} */ (await nextMessage(server)).port),
  );
  const load = child(['http-load', String(rounds), String(burstMs), ...ports.map(String)]);
  if ((await nextMessage(load)) !== 'warm') throw new Error('the load generator did not warm up');
  servers.forEach((server) => server.send('mark'));
  await Promise.all(servers.map(nextMessage));
  load.send('go');
  /** @type {{ requests: number, ms: number }[]} */
  const driven = /** @type {{ requests: number, ms: number }[]} */ (await nextMessage(load));
  servers.forEach((server) => server.send('report'));
  const reports = await Promise.all(servers.map(nextMessage));
  await Promise.all([...servers, load].map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : Promise.resolve())));
  return driven.map(({ requests, ms }, i) => ({
    rps: (requests * 1000) / ms,
    cpuUsPerRequest: /** @type {{ cpuUsPerRequest: number }} */ (reports[i]).cpuUsPerRequest,
  }));
}

// --- the parent: trials and the report ---------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '5' },
      only: { type: 'string' },
      rounds: { type: 'string', default: '8' },
      burst: { type: 'string', default: '250' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'Usage: node tools/bench/async-context.mjs [--trials N (5)] [--only switch|http] [--rounds N (8)] [--burst MS (250)] [--json]\n' +
        'http: per trial, --rounds rounds of one --burst ms burst of requests per server mode, round-robin.',
    );
    return;
  }
  const trials = Number(values.trials);
  const rounds = Number(values.rounds);
  const burstMs = Number(values.burst);
  if (![trials, rounds, burstMs].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error('--trials, --rounds and --burst must be positive integers');
  }
  /** @type {Sample[]} */
  const switches = [];
  /** @type {Record<string, Sample[]>} */
  const http = { none: [], set: [], run: [], als: [], hooks: [] };
  let mechanism = '';
  for (let t = 1; t <= trials; t++) {
    if (values.only !== 'http') {
      process.stderr.write(`trial ${t}/${trials}: switch\n`);
      const proc = child(['switch']);
      const result = /** @type {{ mechanism: string, sample: Record<string, number> }} */ (await nextMessage(proc));
      mechanism = result.mechanism;
      switches.push(result.sample);
    }
    if (values.only !== 'switch') {
      /** @type {Mode[]} */
      const modes = ['none', 'set', 'run', 'als', 'hooks'];
      process.stderr.write(`trial ${t}/${trials}: http\n`);
      const samples = await httpTrial(modes, rounds, burstMs);
      modes.forEach((mode, i) => http[mode]?.push(samples[i] ?? {}));
    }
  }
  /** @type {Result[]} */
  const results = [];
  /** @param {string} name @param {string} unit @param {Sample[]} samples @param {string} key @param {Sample[]} baseSamples @param {string} baseKey */
  const add = (name, unit, samples, key, baseSamples, baseKey) => {
    const xs = samples.map((s) => s[key] ?? NaN);
    const bs = baseSamples.map((s) => s[baseKey] ?? NaN);
    results.push({
      name, unit, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), baseline: median(bs),
      ratio: median(xs.map((x, i) => x / (bs[i] ?? NaN))), trials: xs,
    });
  };
  if (switches.length > 0) {
    add('context switch (leave + enter, 2 keys) = await hop in run() − await hop outside', 'ns/switch',
      switches.map((s) => ({ cost: (s['awaitInRun'] ?? NaN) - (s['awaitOutside'] ?? NaN) })), 'cost', switches, 'awaitOutside');
    add('await hop inside run() (leave + enter, 2 keys)', 'ns/hop', switches, 'awaitInRun', switches, 'awaitPlain');
    add('await hop outside run(), after the first run()', 'ns/hop', switches, 'awaitOutside', switches, 'awaitPlain');
    add('setImmediate hop inside run() (leave + enter, 2 keys)', 'ns/hop', switches, 'immediateInRun', switches, 'immediatePlain');
    add('setImmediate hop outside run(), after the first run()', 'ns/hop', switches, 'immediateOutside', switches, 'immediatePlain');
    add('U64Key.set(), no run() yet', 'ns/op', switches, 'setBefore', switches, 'store');
    add('U64Key.set() outside run(), after the first run()', 'ns/op', switches, 'setAfter', switches, 'storeAfter');
    add('U64Key.set() inside run()', 'ns/op', switches, 'setInRun', switches, 'storeAfter');
  }
  if (http['none']?.length) {
    const none = http['none'];
    const label = {
      set: 'set() per request',
      run: 'run() per request',
      hooks: 'no TLD per request, run() called once at start-up',
      als: 'AsyncLocalStorage.run() per request, no TLD',
    };
    add('HTTP throughput, no task local data', 'req/s', none, 'rps', none, 'rps');
    for (const [mode, what] of Object.entries(label)) {
      add(`HTTP throughput, ${what}`, 'req/s', http[mode] ?? [], 'rps', none, 'rps');
    }
    add('server CPU per request, no task local data', 'µs', none, 'cpuUsPerRequest', none, 'cpuUsPerRequest');
    for (const [mode, what] of Object.entries(label)) {
      add(`server CPU per request, ${what}`, 'µs', http[mode] ?? [], 'cpuUsPerRequest', none, 'cpuUsPerRequest');
    }
  }
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', kernel: release(), node: process.version, mechanism };
  if (values.json) {
    const settings = { trials, rounds, burstMs, connections: CONNECTIONS };
    console.log(JSON.stringify({ date: new Date().toISOString(), machine, ...settings, results }, null, 2));
    return;
  }
  const fmt = (/** @type {number} */ x) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
  console.log('| measurement | unit | median | min–max | baseline | ratio |\n|---|---|--:|--:|--:|--:|');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.unit} | ${fmt(r.median)} | ${fmt(r.min)}–${fmt(r.max)} | ${fmt(r.baseline)} | ${r.ratio.toFixed(3)} |`);
  }
  console.log(`\n${trials} trials (fresh processes); ${machine.cpus} × ${machine.cpuModel}, Linux ${machine.kernel}, Node ${machine.node} (${mechanism || 'mechanism not measured'})`);
}

const [flag, role, ...rest] = process.argv.slice(2);
if (flag === '--child') {
  if (role === 'switch') {
    const result = await switchTrial();
    process.send?.(result, () => process.disconnect());
  } else if (role === 'http-server') {
    const modes = /** @type {Mode[]} */ (['set', 'run', 'als', 'hooks']);
    await httpServer(modes.find((m) => m === rest[0]) ?? 'none');
  } else if (role === 'http-load') {
    const driven = await httpLoad(rest.slice(2).map(Number), Number(rest[0]), Number(rest[1]));
    process.send?.(driven, () => process.disconnect());
  } else {
    throw new Error(`unknown child role ${role}`);
  }
} else {
  await main();
}
