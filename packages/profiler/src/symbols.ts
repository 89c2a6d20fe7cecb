// Names for the instruction pointers of a process's stacks: JS frames from the perf map V8 writes with
// `node --perf-basic-prof` (/tmp/perf-PID.map: "START SIZE name" in hex), native frames from the ELF symbols of
// the file mapped there (/proc/PID/maps), kernel frames from /proc/kallsyms. Read once per profile, at its end,
// while the process is alive (the perf map only grows).
import { readFileSync } from 'node:fs';
import { type ElfSymbols, findSymbol, readElfSymbols } from './elf.js';

export interface Frame {
  /** Function name, or the address in hex when nothing names it. */
  readonly name: string;
  /** The file the code was mapped from ('[kernel]', '[jit]' for the perf map), or '' when unknown. */
  readonly module: string;
  readonly address: bigint;
}

interface Mapping {
  readonly start: bigint;
  readonly end: bigint;
  readonly offset: bigint;
  readonly path: string;
}

interface Named {
  readonly address: bigint;
  readonly size: bigint;
  readonly name: string;
}

const hex = (a: bigint): string => `0x${a.toString(16)}`;

function byAddress(a: Named, b: Named): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}

/** The perf map of `pid`, sorted; undefined when there is none. */
export function readPerfMap(pid: number): Named[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/tmp/perf-${pid}.map`, 'utf8');
  } catch {
    return undefined;
  }
  const entries: Named[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.*)$/.exec(line);
    if (m) entries.push({ address: BigInt(`0x${m[1]}`), size: BigInt(`0x${m[2]}`), name: m[3]! });
  }
  // Code moves and is collected: a later entry for the same range is the current one; a stable sort keeps order.
  return entries.sort(byAddress);
}

function readMappings(pid: number): Mapping[] {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return [];
  }
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (m && m[3]!.includes('x')) {
      out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), offset: BigInt(`0x${m[4]}`), path: m[5]! });
    }
  }
  return out;
}

let kallsyms: Named[] | undefined;
function kernelSymbols(): Named[] {
  if (!kallsyms) {
    kallsyms = [];
    try {
      for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
        const [addr, type, name] = line.split(/\s+/);
        if (addr && name && type && /^[tTwW]$/.test(type))
          kallsyms.push({ address: BigInt(`0x${addr}`), size: 0n, name });
      }
    } catch {
      // no kallsyms: kernel frames keep their addresses
    }
    kallsyms.sort(byAddress);
    // Addresses read as 0 without the privilege to see them: useless.
    if (kallsyms.length > 0 && kallsyms[kallsyms.length - 1]!.address === 0n) kallsyms = [];
  }
  return kallsyms;
}

/** Symbolizes the stacks of one process. */
export class Symbolizer {
  readonly pid: number;
  /** False when the process has no perf map: JS frames keep their addresses. */
  readonly hasPerfMap: boolean;
  private readonly perfMap: Named[];
  private readonly mappings: Mapping[];
  private readonly elves = new Map<string, ElfSymbols | undefined>();

  constructor(pid: number) {
    this.pid = pid;
    const perfMap = readPerfMap(pid);
    this.hasPerfMap = perfMap !== undefined;
    this.perfMap = perfMap ?? [];
    this.mappings = readMappings(pid);
  }

  /** Names a user-space instruction pointer. */
  user(address: bigint): Frame {
    const jit = findSymbol(this.perfMap, address);
    if (jit) return { name: jit.name, module: '[jit]', address };
    const mapping = this.mappings.find((m) => address >= m.start && address < m.end);
    if (!mapping || !mapping.path.startsWith('/')) return { name: hex(address), module: mapping?.path ?? '', address };
    let elf = this.elves.get(mapping.path);
    if (!this.elves.has(mapping.path)) {
      // Through the process's root, so a process in another mount namespace still resolves.
      elf = readElfSymbols(`/proc/${this.pid}/root${mapping.path}`) ?? readElfSymbols(mapping.path);
      this.elves.set(mapping.path, elf);
    }
    const fileOffset = address - mapping.start + mapping.offset;
    const load = elf?.loads.find((l) => fileOffset >= l.offset && fileOffset < l.offset + l.filesz);
    const sym = elf && load ? findSymbol(elf.symbols, fileOffset - load.offset + load.vaddr) : undefined;
    return { name: sym ? sym.name : hex(address), module: mapping.path, address };
  }

  /** Names a kernel instruction pointer. */
  kernel(address: bigint): Frame {
    const sym = findSymbol(kernelSymbols(), address);
    return { name: sym ? sym.name : hex(address), module: '[kernel]', address };
  }
}
