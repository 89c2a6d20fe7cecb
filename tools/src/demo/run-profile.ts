// The profiling demo: load the route profiler for this process, start the server (main thread + workers, or the
// main thread alone), attach, drive load from a child process, then compare what the app measured with what the
// BPF programs charged. Everything is detached and closed on the way out, on Ctrl-C (SIGINT) and SIGTERM too.
import { availableParallelism, release } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type RouteProfile, loadRouteProfile } from '@tld/profiler';
import { TaskLocalData } from '@tld/userspace';
import type { DemoOptions } from './args.js';
import { writeChart } from './chart.js';
import type { LoadConfig, LoadProgress } from '../http/load.js';
import { startLoad } from '../http/start-load.js';
import { Progress } from './progress.js';
import { BUCKET_NAMES, buildReport, renderBars, renderTable, toJson } from './report.js';
import { type RequestRunner, contextRunner, createKeys, stepRunner } from './request-scope.js';
import { DemoServer } from './server.js';
import { ROUTES } from './workload.js';

/** A run that cannot start for a reason the user can act on: printed as one line, exit status 1. */
export class DemoError extends Error {
  override readonly name = 'DemoError';
}

/** Cleanup steps, run once in reverse order; a failing step does not stop the others. */
class Cleanup {
  readonly #steps: Array<[string, () => unknown]> = [];
  #ran = false;

  add(what: string, step: () => unknown): void {
    this.#steps.push([what, step]);
  }

  async run(): Promise<string[]> {
    if (this.#ran) return [];
    this.#ran = true;
    const problems: string[] = [];
    for (const [what, step] of this.#steps.reverse()) {
      try {
        // A step that hangs (a worker that does not exit) must not keep the programs attached: bounded wait.
        await Promise.race([step(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    }
    return problems;
  }
}

/** The background thread that never registers (its CPU must land in "(no route)"). */
async function startBackground(): Promise<{ start(): void; stop(): Promise<number> }> {
  const worker = new Worker(new URL('./background-worker.js', import.meta.url));
  await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
  let stopped: Promise<number> | undefined;
  return {
    start: () => worker.postMessage('start'),
    stop: () =>
      (stopped ??= new Promise<number>((resolve, reject) => {
        worker.once('message', (m: { cpuNs: number }) => resolve(m.cpuNs)).once('error', reject);
        worker.postMessage('stop');
      })),
  };
}

/** Resolves with the signal's exit status (130 for SIGINT, 143 for SIGTERM) when one arrives. */
function signals(onSecond: () => void): { received: Promise<number>; remove(): void } {
  let resolveSignal: (code: number) => void = () => {};
  const received = new Promise<number>((resolve) => (resolveSignal = resolve));
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    if (count > 1) onSecond();
    resolveSignal(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', handler).on('SIGTERM', handler);
  return { received, remove: () => process.off('SIGINT', handler).off('SIGTERM', handler) };
}

/**
 * How run() carries the values on this thread: 'walk' (BPF walks the async context) or 'page' (mirrored into the
 * page); null where @tld/userspace has the page mechanism only.
 */
function mechanism(tld: TaskLocalData): string | null {
  const chosen = (tld as unknown as { asyncContext?: unknown }).asyncContext;
  return typeof chosen === 'string' ? chosen : null;
}

function describeLinks(profile: RouteProfile, sampleHz: number): string[] {
  const [sw, sys, ...perf] = profile.links;
  return [
    `attached on_sched_switch (tp_btf/sched_switch): link ${sw?.id}, prog ${sw?.progId}`,
    `attached on_syscall (tp_btf/sys_enter): link ${sys?.id}, prog ${sys?.progId}`,
    `attached on_cpu_sample (perf_event, CPU clock at ${sampleHz} Hz) on ${perf.length} CPUs: ` +
      `links ${perf.map((l) => l.id).join(', ')}, prog ${perf[0]?.progId}`,
  ];
}

/** Runs the profiling demo; resolves with the exit status. */
export async function runProfile(opts: DemoOptions): Promise<number> {
  const say = opts.json ? (): void => {} : (line = ''): void => void process.stdout.write(`${line}\n`);
  const cleanup = new Cleanup();
  const signal = signals(() => {
    // A second Ctrl-C: leave now. The links are file descriptors; the kernel detaches them as the process exits.
    process.stderr.write('\ninterrupted again: exiting; the kernel detaches what the process held\n');
    process.exit(130);
  });
  cleanup.add('signal handlers', () => signal.remove());
  try {
    say('Task local data: CPU time by route, measured by BPF programs in the kernel');
    say(`Linux ${release()}, Node.js ${process.version}, ${availableParallelism()} CPUs; server pid ${process.pid}\n`);

    const pinned = opts.map?.kind === 'pin' ? opts.map.path : undefined;
    const profile = loadRouteProfile({
      tgid: process.pid,
      map: pinned ? { pinPath: pinned } : 'private',
      sampleHz: opts.sampleHz,
    });
    cleanup.add('closing the BPF object', () => profile.close());
    say(
      `1. BPF: loaded tld_profiler.bpf.o (@tld/profiler, what tld top runs) for pid ${process.pid}; tld_data_map ` +
        (pinned
          ? `pinned at ${pinned}${profile.createdPins.length ? ' (created 0600, removed at exit)' : ' (reused)'}`
          : 'private to this run (nothing pinned)'),
    );

    const tld = TaskLocalData.open({ mapFd: profile.mapFd });
    cleanup.add('unregistering the main thread', () => tld.close());
    const keys = createKeys(tld);
    const async = opts.mode === 'async';
    const main: RequestRunner = async ? contextRunner(tld) : stepRunner(keys);
    const server = await DemoServer.start({ mapFd: profile.mapFd, workers: async ? 0 : opts.workers, main });
    cleanup.add('stopping the server', () => server.close());
    const background = await startBackground();
    cleanup.add('stopping the background thread', () => background.stop());

    profile.attach();
    cleanup.add('detaching', () => profile.detach());
    for (const line of describeLinks(profile, opts.sampleHz)) say(`   ${line}`);
    say(
      `2. Server: http://127.0.0.1:${server.port}, ` +
        (async
          ? `the main thread alone, requests interleaved at their awaits (TaskLocalData.run, by the ${mechanism(tld) ?? 'page'})`
          : `the main thread and ${opts.workers} worker threads, round robin`) +
        '; a background thread that never sets a route',
    );
    say(
      `   routes ${ROUTES.map((r) => r.route).join(', ')}: each handler publishes route, req_id and tenant while it works`,
    );

    background.start();
    const started = Date.now();
    const config: LoadConfig = {
      port: server.port,
      durationS: opts.durationS,
      maxRequests: opts.maxRequests,
      concurrency: opts.concurrency,
      seed: 2025,
    };
    let latest: LoadProgress = { type: 'progress', done: 0, errors: 0 };
    const { child: load, finished: loaded } = startLoad(config, {
      stdout: 'inherit',
      onProgress: (m) => (latest = m),
    });
    cleanup.add('stopping the load generator', () => load.exitCode === null && load.kill());
    say(
      `3. Load: ${opts.concurrency} requests in flight for ${opts.durationS} s (at most ${opts.maxRequests}) from pid ${load.pid}`,
    );

    const progress = new Progress(process.stderr);
    const finished = loaded.catch((error: Error) => {
      throw new DemoError(error.message);
    });
    const ticker = setInterval(() => {
      if (opts.json) return;
      const elapsed = (Date.now() - started) / 1000;
      const routes = profile.read().totals.filter((t) => t.state === 'route');
      const total = routes.reduce((s, t) => s + t.cpuNs, 0) || 1;
      const live = routes
        .sort((a, b) => b.cpuNs - a.cpuNs)
        .map((t) => `${t.route} ${Math.round((t.cpuNs / total) * 100)}%`);
      progress.update(
        `   ${elapsed.toFixed(1)} s / ${opts.durationS} s   ${latest.done} requests (${Math.round(latest.done / elapsed)}/s)` +
          `   BPF so far: ${live.join(' · ')}`,
      );
    }, 250);
    cleanup.add('progress', () => clearInterval(ticker));
    const interrupted = await Promise.race([finished.then(() => 0), signal.received]);
    clearInterval(ticker);
    progress.done();
    if (interrupted) {
      const links = profile.links.length;
      const problems = await cleanup.run();
      process.stderr.write(
        `interrupted: stopped the load, detached ${links} links, closed the BPF object` +
          `${pinned && profile.createdPins.length ? `, removed ${pinned}` : ''}${problems.length ? `; ${problems.join('; ')}` : ''}\n`,
      );
      return interrupted;
    }

    profile.detach();
    const durationS = (Date.now() - started) / 1000;
    const bpf = profile.read();
    const backgroundCpuNs = await background.stop();
    const report = buildReport({
      app: await server.counts(),
      backgroundCpuNs,
      bpf,
      durationS,
      tolerancePp: opts.tolerancePp,
    });
    await writeChart(
      report,
      `${durationS.toFixed(1)} s, ${latest.done} requests, ${opts.mode} mode, Linux ${release()}`,
      opts.svgPath,
    );

    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ ...(toJson(report) as object), mode: opts.mode, ...(async ? { asyncContext: mechanism(tld) } : {}) }, null, 2)}\n`,
      );
    } else {
      const served = server.servedBy.reduce((a, b) => a + b, 0) || 1;
      const mainShare = Math.round(((server.servedBy[0] ?? 0) / served) * 100);
      say(
        `4. Results: ${durationS.toFixed(1)} s, ${latest.done} requests, ${latest.errors + server.errors} errors; ` +
          `the main thread served ${mainShare} % of them\n`,
      );
      say(renderTable(report));
      say(
        "\n   Share of the routes' CPU time (app: handlers timed themselves; BPF: on-CPU time; samples: perf_event)\n",
      );
      say(renderBars(report));
      say(`\n   Chart: ${opts.svgPath}`);
      say(`   ${BUCKET_NAMES.idle}: registered threads between requests (HTTP parsing, dispatch, the event loop).`);
      say(`   ${BUCKET_NAMES.none}: threads that never set a route (the background thread, V8 and libuv helpers).`);
      if (report.unstampedPieces > 0) {
        say(
          `   ${report.unstampedPieces} pieces of threads already on a CPU at attach were not charged (start unknown).`,
        );
      }
      if (report.ok)
        say(
          `   Every route within ${opts.tolerancePp} percentage points: BPF attributed the server's CPU as the app measured it.`,
        );
    }
    for (const failure of report.failures) process.stderr.write(`FAIL ${failure}\n`);
    const problems = await cleanup.run();
    say(
      `5. Detached every link and closed the BPF object${pinned && profile.createdPins.length ? `; removed ${pinned}` : '; nothing was pinned'}.`,
    );
    for (const p of problems) process.stderr.write(`cleanup: ${p}\n`);
    return report.ok ? 0 : 1;
  } finally {
    await cleanup.run();
  }
}
