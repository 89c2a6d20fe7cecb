// A CPU profile labelled by task-local values, built from the profiler's buckets with symbolized stacks, and its
// three renderings: pprof (gzipped protobuf through pprof-format), folded stacks and an SVG flame graph.
import { gzipSync } from 'node:zlib';
import {
  Function as PprofFunction,
  Location,
  Mapping,
  Profile as PprofProfile,
  StringTable,
  ValueType,
} from 'pprof-format';
import { decodeString } from '@tld/protocol';
import type { Profiler, ProfilerReading } from './programs.js';
import { type Frame, Symbolizer } from './symbols.js';

/** Label text of a thread between requests (request key 0). */
export const BETWEEN_REQUESTS = '(between requests)';
/** Label text when the thread has no such key (not registered, or the key was never created in its process). */
export const NO_VALUE = '(no value)';

/** A stack with its labels and how many samples found it. */
export interface ProfileSample {
  readonly tgid: number;
  /** Label values by key name (text; see labelText), in the profile's label order. */
  readonly labels: Readonly<Record<string, string>>;
  /** Innermost frame first: the user stack, then the kernel stack on top (kernel frames are innermost). */
  readonly frames: readonly Frame[];
  readonly count: number;
}

export interface CpuProfile {
  readonly labelNames: readonly string[];
  readonly sampleHz: number;
  /** Nanoseconds of CPU one sample stands for (1e9 / sampleHz). */
  readonly periodNs: number;
  readonly startNs: number;
  readonly durationNs: number;
  readonly samples: readonly ProfileSample[];
  /** Processes whose JS frames kept their addresses: no /tmp/perf-PID.map. */
  readonly withoutPerfMap: readonly number[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A label's bytes as text: a printable NUL-padded string, else an unsigned integer (1/2/4/8 bytes), else hex. */
export function labelText(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  if (nul > 0 && bytes.subarray(nul).every((b) => b === 0)) {
    try {
      const text = utf8.decode(bytes.subarray(0, nul));
      if (![...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return decodeString(bytes);
    } catch {
      // not UTF-8: a number or bytes
    }
  }
  if (bytes.every((b) => b === 0)) return NO_VALUE;
  if ([1, 2, 4, 8].includes(bytes.length)) {
    let n = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
    return n.toString();
  }
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

/** The label texts of a bucket, by name. */
export function bucketLabels(
  names: readonly string[],
  bucket: ProfilerReading['buckets'][number],
): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((name, i) => {
    const bytes = bucket.labels[i];
    out[name] = bucket.state === 'idle' ? BETWEEN_REQUESTS : bytes ? labelText(bytes) : NO_VALUE;
  });
  return out;
}

/**
 * Turns what `profiler` (loaded with stacks) collected into a profile: stacks symbolized now, while the processes
 * are alive.
 */
export function buildProfile(
  profiler: Profiler,
  options: { sampleHz: number; startNs: number; durationNs: number },
): CpuProfile {
  const reading = profiler.read();
  const names = profiler.labels.map((l) => l.name);
  const symbolizers = new Map<number, Symbolizer>();
  const symbolizer = (pid: number): Symbolizer => {
    let s = symbolizers.get(pid);
    if (!s) symbolizers.set(pid, (s = new Symbolizer(pid)));
    return s;
  };
  const stacks = new Map<number, bigint[]>();
  const stack = (id: number): bigint[] => {
    let ips = stacks.get(id);
    if (!ips) stacks.set(id, (ips = profiler.stack(id)));
    return ips;
  };
  const samples: ProfileSample[] = [];
  for (const b of reading.buckets) {
    if (b.samples === 0) continue;
    const s = symbolizer(b.tgid);
    const frames = [...stack(b.kernelStack).map((ip) => s.kernel(ip)), ...stack(b.userStack).map((ip) => s.user(ip))];
    samples.push({ tgid: b.tgid, labels: bucketLabels(names, b), frames, count: b.samples });
  }
  return {
    labelNames: names,
    sampleHz: options.sampleHz,
    periodNs: Math.round(1e9 / options.sampleHz),
    startNs: options.startNs,
    durationNs: options.durationNs,
    samples,
    withoutPerfMap: [...symbolizers.values()].filter((s) => !s.hasPerfMap).map((s) => s.pid),
  };
}

/**
 * The profile as pprof's profile.proto, gzipped: sample types samples/count and cpu/nanoseconds (the default),
 * period type cpu/nanoseconds, each key a string label of its samples (plus `pid`).
 */
export function toPprof(profile: CpuProfile): Uint8Array {
  const strings = new StringTable();
  const functions = new Map<string, PprofFunction>();
  const locations = new Map<string, Location>();
  const mappings = new Map<string, Mapping>();
  const mappingOf = (module: string): Mapping | undefined => {
    if (module === '') return undefined;
    let m = mappings.get(module);
    if (!m) {
      m = new Mapping({ id: mappings.size + 1, filename: strings.dedup(module), hasFunctions: true });
      mappings.set(module, m);
    }
    return m;
  };
  const locationOf = (frame: Frame): Location => {
    const id = `${frame.module}\0${frame.address}`;
    let loc = locations.get(id);
    if (!loc) {
      const fnId = `${frame.module}\0${frame.name}`;
      let fn = functions.get(fnId);
      if (!fn) {
        fn = new PprofFunction({
          id: functions.size + 1,
          name: strings.dedup(frame.name),
          systemName: strings.dedup(frame.name),
          filename: strings.dedup(frame.module),
        });
        functions.set(fnId, fn);
      }
      loc = new Location({
        id: locations.size + 1,
        mappingId: mappingOf(frame.module)?.id ?? 0,
        address: frame.address,
        line: [{ functionId: fn.id }],
      });
      locations.set(id, loc);
    }
    return loc;
  };
  const sampleType = [
    new ValueType({ type: strings.dedup('samples'), unit: strings.dedup('count') }),
    new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') }),
  ];
  const pidKey = strings.dedup('pid');
  const sample = profile.samples.map((s) => ({
    locationId: s.frames.map((f) => locationOf(f).id),
    value: [s.count, s.count * profile.periodNs],
    label: [
      ...profile.labelNames.map((name) => ({
        key: strings.dedup(name),
        str: strings.dedup(s.labels[name] ?? NO_VALUE),
      })),
      { key: pidKey, num: s.tgid },
    ],
  }));
  const comment = profile.withoutPerfMap.map((pid) =>
    strings.dedup(`pid ${pid}: no /tmp/perf-${pid}.map, JS frames are addresses`),
  );
  const encoded = new PprofProfile({
    sampleType,
    sample,
    mapping: [...mappings.values()],
    location: [...locations.values()],
    function: [...functions.values()],
    stringTable: strings,
    timeNanos: profile.startNs,
    durationNanos: profile.durationNs,
    periodType: new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') }),
    period: profile.periodNs,
    comment,
    defaultSampleType: strings.dedup('cpu'),
  }).encode();
  return gzipSync(encoded);
}

/** A frame name fit for the folded format (no ';', no newline). */
function foldedName(name: string): string {
  return name.replace(/[;\n]/g, '_');
}

/**
 * Folded stacks (flamegraph.pl, speedscope, inferno): one line per stack, `label values;outermost;...;innermost
 * count`; the label values are the root frames, in the profile's label order.
 */
export function toFolded(profile: CpuProfile): string {
  const lines = new Map<string, number>();
  for (const s of profile.samples) {
    const path = [
      ...profile.labelNames.map((name) => foldedName(s.labels[name] ?? NO_VALUE)),
      ...[...s.frames].reverse().map((f) => foldedName(f.name)),
    ].join(';');
    lines.set(path, (lines.get(path) ?? 0) + s.count);
  }
  return (
    [...lines]
      .map(([path, count]) => `${path} ${count}`)
      .sort()
      .join('\n') + (lines.size > 0 ? '\n' : '')
  );
}
