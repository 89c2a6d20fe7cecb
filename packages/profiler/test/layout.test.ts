// include/tld_profiler.h is what src/layout.ts renders, and the compiled object's BTF has the offsets TypeScript
// uses (read through bpftool, which shares no code with this package).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ProfLayout, profilerObjectPath } from '../src/index.js';

interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  members?: { name: string; bits_offset: number }[];
}

function struct(name: string): { size: number; offset: (member: string) => number } {
  const out = JSON.parse(
    execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', profilerObjectPath], { encoding: 'utf8' }),
  ) as { types: BtfType[] };
  const found = out.types.filter((t) => t.kind === 'STRUCT' && t.name === name);
  expect(found).toHaveLength(1);
  const s = found[0]!;
  return {
    size: s.size ?? -1,
    offset: (member) => (s.members?.find((m) => m.name === member)?.bits_offset ?? -8) / 8,
  };
}

describe('the profiler layout', () => {
  it('tld_prof_settings, tld_prof_key and tld_prof_stats in tld_profiler.bpf.o', () => {
    const settings = struct('tld_prof_settings');
    const key = struct('tld_prof_key');
    const stats = struct('tld_prof_stats');
    expect(ProfLayout.settings).toEqual({
      size: settings.size,
      namesOffset: settings.offset('names'),
      labelSizeOffset: settings.offset('label_size'),
      nrLabelsOffset: settings.offset('nr_labels'),
      requestOffset: settings.offset('request'),
      allTasksOffset: settings.offset('all_tasks'),
      stacksOffset: settings.offset('stacks'),
    });
    expect(ProfLayout.key).toEqual({
      size: key.size,
      tgidOffset: key.offset('tgid'),
      stateOffset: key.offset('state'),
      userStackOffset: key.offset('user_stack'),
      kernelStackOffset: key.offset('kernel_stack'),
      presentOffset: key.offset('present'),
      labelsOffset: key.offset('labels'),
    });
    expect(ProfLayout.stats).toEqual({
      size: stats.size,
      cpuNsOffset: stats.offset('cpu_ns'),
      piecesOffset: stats.offset('pieces'),
      samplesOffset: stats.offset('samples'),
      requestsOffset: stats.offset('requests'),
    });
  });
});
