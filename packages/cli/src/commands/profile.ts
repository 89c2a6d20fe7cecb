// tld profile: CPU-clock samples of one process with user and kernel stacks, each labelled with the values its
// thread had published at that moment, written as pprof (default), folded stacks or an SVG flame graph per value.
import { writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ExitCode, type RunState, action, columns, output } from '../output.js';
import { jsonOption, parsePid, pinOption } from '../options.js';
import { printable } from './dump.js';
import { chooseKeys, checkPin, labelOptions, parseSeconds, progress, sleepOrSignal } from '../profiling.js';

const FORMATS = ['pprof', 'folded', 'svg'] as const;
type Format = (typeof FORMATS)[number];
const EXTENSIONS: Record<Format, string> = { pprof: 'pb.gz', folded: 'folded', svg: 'svg' };

interface ProfileOptions {
  pin: string;
  pid: number;
  duration: number;
  by: string[];
  request?: string;
  output?: string;
  format?: Format;
  frequency: number;
  json: boolean;
}

function parseFormat(value: string): Format {
  if (!(FORMATS as readonly string[]).includes(value))
    throw new InvalidArgumentError(`give one of ${FORMATS.join(', ')}`);
  return value as Format;
}

/** The format asked for, else the one the file name says (.svg, .folded/.txt), else pprof. */
function formatOf(opts: ProfileOptions): Format {
  if (opts.format) return opts.format;
  if (opts.output?.endsWith('.svg')) return 'svg';
  if (opts.output && /\.(folded|txt)$/.test(opts.output)) return 'folded';
  return 'pprof';
}

async function profile(opts: ProfileOptions): Promise<ExitCode> {
  const format = formatOf(opts);
  const file = opts.output ?? `tld-${opts.pid}.${EXTENSIONS[format]}`;
  await checkPin(opts.pin);
  const { loadProfiler, buildProfile, toPprof, toFolded, toSvg } = await import('@tld/profiler');
  const keys = await chooseKeys(opts.pin, [opts.pid], opts.by, opts.request);
  const profiler = loadProfiler({
    labels: keys.labels,
    ...(keys.request === undefined ? {} : { requestKey: keys.request }),
    pids: [opts.pid],
    map: { pinPath: opts.pin },
    stacks: true,
    sampleHz: opts.frequency,
  });
  const out = output(opts.json);
  const line = progress(!opts.json);
  let built;
  try {
    const startNs = Date.now() * 1e6;
    const started = performance.now();
    profiler.attachSampler();
    const deadline = started + opts.duration * 1000;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const samples = profiler.read().buckets.reduce((a, b) => a + b.samples, 0);
      line.update(
        `tld profile: pid ${opts.pid}, ${((performance.now() - started) / 1000).toFixed(0)}/${opts.duration} s, ${samples} samples`,
      );
      if (await sleepOrSignal(Math.min(left, 1000))) break;
    }
    profiler.detach();
    line.update(`tld profile: pid ${opts.pid}: naming frames…`);
    built = buildProfile(profiler, {
      sampleHz: opts.frequency,
      startNs,
      durationNs: Math.round((performance.now() - started) * 1e6),
    });
  } finally {
    line.done();
    profiler.close();
  }
  for (const pid of built.withoutPerfMap) {
    process.stderr.write(
      `tld: note: process ${pid} has no /tmp/perf-${pid}.map, so its JavaScript frames keep their addresses: ` +
        'start node with --perf-basic-prof (or --perf-basic-prof-only-functions) to name them\n',
    );
  }
  const bytes = format === 'pprof' ? toPprof(built) : format === 'folded' ? toFolded(built) : toSvg(built);
  if (file === '-') process.stdout.write(bytes);
  else writeFileSync(file, bytes);

  const total = built.samples.reduce((a, s) => a + s.count, 0);
  const byValue = new Map<string, { labels: Record<string, string>; samples: number }>();
  for (const s of built.samples) {
    const id = JSON.stringify(s.labels);
    const entry = byValue.get(id) ?? { labels: { ...s.labels }, samples: 0 };
    entry.samples += s.count;
    byValue.set(id, entry);
  }
  const values = [...byValue.values()]
    .sort((a, b) => b.samples - a.samples)
    .map((v) => ({ ...v, share: total > 0 ? Math.round((1e4 * v.samples) / total) / 100 : 0 }));
  if (file !== '-') {
    const names = built.labelNames;
    out.result(
      {
        file,
        format,
        pid: opts.pid,
        by: names,
        request: keys.request ?? null,
        sampleHz: opts.frequency,
        periodNs: built.periodNs,
        samples: total,
        values,
        withoutPerfMap: built.withoutPerfMap,
      },
      `${columns([
        [...names.map((n) => n.toUpperCase()), 'SAMPLES', 'SHARE'],
        ...values.map((v) => [
          ...names.map((n) => printable(v.labels[n] ?? '')),
          String(v.samples).padStart(7),
          `${v.share.toFixed(1)}%`.padStart(6),
        ]),
      ])}\nwrote ${total} samples of pid ${opts.pid} to ${file} (${format})`,
    );
  }
  return ExitCode.OK;
}

export function profileCommand(program: Command, state: RunState): void {
  const cmd = program
    .command('profile')
    .description("sample one process's CPU with stacks, each sample labelled with the values its thread published")
    .addOption(new Option('--pid <pid>', 'the process to profile').argParser(parsePid).makeOptionMandatory())
    .addOption(
      new Option('--duration <seconds>', 'how long to sample (stops early at Ctrl-C)')
        .default(10)
        .argParser(parseSeconds),
    );
  labelOptions(cmd, 'the keys that label each sample')
    .addOption(
      new Option(
        '-o, --output <file>',
        "where to write the profile ('-' for stdout; default tld-PID.pb.gz, .folded or .svg)",
      ),
    )
    .addOption(
      new Option(
        '--format <format>',
        'pprof (gzipped profile.proto), folded (flamegraph.pl, speedscope) or svg (a flame graph per value)',
      ).argParser(parseFormat),
    )
    .addHelpText(
      'after',
      '\nJavaScript frames are named from /tmp/perf-PID.map: start node with --perf-basic-prof. Native frames are' +
        '\nnamed from the ELF symbols of the mapped files, kernel frames from /proc/kallsyms. In pprof each key is a' +
        '\nsample label (and pid a numeric one); sample types samples/count and cpu/nanoseconds. In folded output the' +
        "\nkeys' values are the root frames." +
        '\n\nExamples:\n  sudo npx tld profile --pid 1234 --duration 30 -o out.pb.gz && go tool pprof -tagfocus route=/users out.pb.gz' +
        '\n  sudo npx tld profile --pid 1234 --by route,tenant -o flame.svg',
    );
  pinOption(jsonOption(cmd)).action(action(state, profile));
}
