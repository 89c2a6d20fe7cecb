// tld profile against a service that burns known CPU per route in named functions (test/fixtures/burn-service.mjs):
// the profile's per-route shares match what the service measured of itself, the heaviest route's samples show its
// burning function, and the pprof output decodes with an independent decoder (protobufjs with profile.proto's
// schema written here from the format's field numbers).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { bpfSupport, uniquePinPath } from '@tld/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BurnService,
  burnServicePath,
  json,
  measuredShares,
  nodeBinary,
  run,
  startBurnService,
} from './helpers.js';

const bpf = bpfSupport();

const ROUTES = ['/heavy', '/medium', '/light', '(between requests)'];
const HZ = 499;

// perftools.profiles (google/pprof proto/profile.proto), the fields this test reads.
const schema = protobuf
  .parse(
    `
syntax = "proto3";
package perftools.profiles;
message Profile {
  repeated ValueType sample_type = 1;
  repeated Sample sample = 2;
  repeated Mapping mapping = 3;
  repeated Location location = 4;
  repeated Function function = 5;
  repeated string string_table = 6;
  int64 time_nanos = 9;
  int64 duration_nanos = 10;
  ValueType period_type = 11;
  int64 period = 12;
  repeated int64 comment = 13;
  int64 default_sample_type = 14;
}
message ValueType { int64 type = 1; int64 unit = 2; }
message Sample { repeated uint64 location_id = 1; repeated int64 value = 2; repeated Label label = 3; }
message Label { int64 key = 1; int64 str = 2; int64 num = 3; int64 num_unit = 4; }
message Mapping { uint64 id = 1; uint64 memory_start = 2; uint64 memory_limit = 3; uint64 file_offset = 4; int64 filename = 5; }
message Location { uint64 id = 1; uint64 mapping_id = 2; uint64 address = 3; repeated Line line = 4; }
message Line { uint64 function_id = 1; int64 line = 2; }
message Function { uint64 id = 1; int64 name = 2; int64 system_name = 3; int64 filename = 4; }
`,
  )
  .root.lookupType('perftools.profiles.Profile');

interface Decoded {
  sampleType: { type: number; unit: number }[];
  sample: { locationId: number[]; value: number[]; label: { key: number; str: number; num: number }[] }[];
  location: { id: number; line: { functionId: number }[] }[];
  function: { id: number; name: number }[];
  stringTable: string[];
  periodType: { type: number; unit: number };
  period: number;
  durationNanos: number;
}

function decodePprof(file: string): Decoded {
  const message = schema.decode(gunzipSync(readFileSync(file)));
  return schema.toObject(message, { longs: Number, defaults: true }) as Decoded;
}

/** Samples per root frame (the route) and, per route, how many stacks contain `fn`, from folded output. */
function folded(text: string): Map<string, { samples: number; frames: string[]; count: number }[]> {
  const out = new Map<string, { samples: number; frames: string[]; count: number }[]>();
  for (const line of text.trim().split('\n')) {
    const at = line.lastIndexOf(' ');
    const [root = '', ...frames] = line.slice(0, at).split(';');
    const count = Number(line.slice(at + 1));
    out.set(root, [...(out.get(root) ?? []), { samples: count, frames, count }]);
  }
  return out;
}

function sharesOf(values: { labels: Record<string, string>; samples: number }[]): Record<string, number> {
  // Of the service's main thread: its samples are those with a route or between requests (its other threads never
  // registered: "(no value)").
  const mine = values.filter((v) => v.labels['route'] !== '(no value)');
  const total = mine.reduce((a, v) => a + v.samples, 0);
  return Object.fromEntries(mine.map((v) => [v.labels['route'] ?? '', (100 * v.samples) / total] as const));
}

describe.skipIf(!bpf.supported)('tld profile', () => {
  const pin = uniquePinPath('profile');
  const dir = mkdtempSync(join(tmpdir(), 'tld-profile-'));
  let service: BurnService | undefined;

  beforeAll(() => {
    expect(run(['map', 'create', '--pin', pin]).status).toBe(0);
  });
  afterAll(async () => {
    await service?.stop();
    run(['map', 'rm', '--pin', pin]);
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, 'run' | 'set', () => string][] = [
    ['run()', 'run', () => process.execPath],
    ['set()', 'set', () => process.execPath],
    // Node 24 has AsyncContextFrame: run() goes by the async-context walk where @tld/userspace has it.
    ['run() on Node 24', 'run', () => nodeBinary(24)],
  ];
  for (const [name, mode, node] of cases) {
    it(`per-route shares within 5 points of the service's own measure; the heavy route's stacks show burnHeavy (${name})`, async () => {
      await service?.stop();
      service = await startBurnService(burnServicePath, pin, mode, ['--perf-basic-prof'], node());
      // Where @tld/userspace has both mechanisms, Node 24 must use the walk (so this checks the BPF walk reader).
      if (name.includes('Node 24') && service.asyncContext !== null) expect(service.asyncContext).toBe('walk');
      const out = join(dir, `${mode}.folded`);
      const before = await service.measure();
      const result = run([
        'profile',
        '--pin',
        pin,
        '--pid',
        String(service.pid),
        '--duration',
        '5',
        '--frequency',
        String(HZ),
        '-o',
        out,
        '--json',
      ]);
      const after = await service.measure();
      expect(result.stderr).toBe('');
      const report = json(result) as {
        ok: boolean;
        format: string;
        samples: number;
        values: { labels: Record<string, string>; samples: number }[];
      };
      expect(report).toMatchObject({ ok: true, format: 'folded' });
      const expected = measuredShares(before, after);
      const seen = sharesOf(report.values);
      for (const route of ROUTES)
        expect
          .soft(
            Math.abs((seen[route] ?? 0) - (expected[route] ?? 0)),
            `${route}: profile ${seen[route]}% vs service ${expected[route]}%`,
          )
          .toBeLessThanOrEqual(5);
      expect(expected['/heavy']).toBeGreaterThan(40);

      const heavy = folded(readFileSync(out, 'utf8')).get('/heavy') ?? [];
      const all = heavy.reduce((a, s) => a + s.count, 0);
      const named = heavy.filter((s) => s.frames.some((f) => f.includes('burnHeavy'))).reduce((a, s) => a + s.count, 0);
      expect(all).toBeGreaterThan(100);
      expect(named / all).toBeGreaterThanOrEqual(0.8);
    });
  }

  it('writes pprof that an independent decoder reads: cpu/nanoseconds, the period, the keys as labels', async () => {
    await service?.stop();
    service = await startBurnService(burnServicePath, pin, 'run');
    const out = join(dir, 'out.pb.gz');
    const result = run([
      'profile',
      '--pin',
      pin,
      '--pid',
      String(service.pid),
      '--duration',
      '2',
      '--frequency',
      String(HZ),
      '--by',
      'route,tenant',
      '-o',
      out,
    ]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`to ${out} (pprof)`);
    const p = decodePprof(out);
    const s = (i: number): string => p.stringTable[i] ?? '';
    expect(p.stringTable[0]).toBe('');
    expect(p.sampleType.map((t) => `${s(t.type)}/${s(t.unit)}`)).toEqual(['samples/count', 'cpu/nanoseconds']);
    expect(`${s(p.periodType.type)}/${s(p.periodType.unit)}`).toBe('cpu/nanoseconds');
    expect(p.period).toBe(Math.round(1e9 / HZ));
    expect(p.durationNanos).toBeGreaterThan(1.5e9);

    const byRoute = new Map<string, number>();
    const tenants = new Map<string, Set<string>>();
    for (const sample of p.sample) {
      const labels = Object.fromEntries(sample.label.filter((l) => l.str !== 0).map((l) => [s(l.key), s(l.str)]));
      const pid = sample.label.find((l) => s(l.key) === 'pid')?.num;
      expect(pid).toBe(service.pid);
      expect(sample.value[1]).toBe((sample.value[0] ?? 0) * p.period);
      const route = labels['route'] ?? '';
      byRoute.set(route, (byRoute.get(route) ?? 0) + (sample.value[0] ?? 0));
      tenants.set(route, new Set([...(tenants.get(route) ?? []), labels['tenant'] ?? '']));
    }
    expect([...byRoute.keys()]).toEqual(expect.arrayContaining(['/heavy', '/medium', '/light']));
    expect([...(tenants.get('/heavy') ?? [])]).toEqual(['acme']);
    expect([...(tenants.get('/medium') ?? [])]).toEqual(['globex']);
    // Locations lead to named functions: burnHeavy is among them.
    const names = new Set(p.function.map((f) => s(f.name)));
    expect([...names].some((n) => n.includes('burnHeavy'))).toBe(true);
  });

  it('writes an SVG flame graph per route', async () => {
    await service?.stop();
    service = await startBurnService(burnServicePath, pin, 'run');
    const out = join(dir, 'flame.svg');
    expect(run(['profile', '--pin', pin, '--pid', String(service.pid), '--duration', '1', '-o', out]).status).toBe(0);
    const svg = readFileSync(out, 'utf8');
    expect(svg).toMatch(/^<\?xml/);
    for (const route of ['/heavy', '/medium']) expect(svg).toContain(`route = ${route}:`);
    expect(svg).toContain('burnHeavy');
  });

  it('says once that a process without a perf map keeps its JS frames as addresses', async () => {
    await service?.stop();
    service = await startBurnService(burnServicePath, pin, 'run', []);
    const out = join(dir, 'nomap.folded');
    const result = run(['profile', '--pin', pin, '--pid', String(service.pid), '--duration', '1', '-o', out]);
    expect(result.status).toBe(0);
    expect(result.stderr.match(/has no \/tmp\/perf-\d+\.map/g)).toHaveLength(1);
    expect(readFileSync(out, 'utf8')).not.toContain('burnHeavy');
  });

  it('refuses a key no thread publishes, with a coded error, and bad options as usage errors', async () => {
    service ??= await startBurnService(burnServicePath, pin, 'run');
    const missing = run(['profile', '--pin', pin, '--pid', String(service.pid), '--by', 'nope', '--json']);
    expect(missing.status).toBe(1);
    expect(json(missing)).toMatchObject({ ok: false, error: { code: 'ERR_TLD_PROFILE_NO_KEY' } });
    expect(run(['profile', '--pin', pin]).status).toBe(2); // --pid is required
    expect(run(['profile', '--pin', pin, '--pid', '1', '--format', 'png']).status).toBe(2);
    expect(run(['profile', '--pin', pin, '--pid', '1', '--by', 'a,b,c,d,e']).status).toBe(2);
  });
});
