// Function symbols of an ELF64 little-endian file (.symtab, else .dynsym), read with a few positioned reads: the
// node executable is over 100 MB, and the npm ELF readers either list no symbols (elfy, elf-tools) or parse the
// whole file (elfinfo took over a minute on node). Layouts: the System V gABI, elf.h (Elf64_Ehdr/Phdr/Shdr/Sym).
import { closeSync, openSync, readSync } from 'node:fs';

export interface ElfSymbol {
  readonly address: bigint;
  readonly size: bigint;
  readonly name: string;
}

/** PT_LOAD segments (file offset → address) and the function symbols sorted by address. */
export interface ElfSymbols {
  readonly loads: readonly { offset: bigint; vaddr: bigint; filesz: bigint }[];
  readonly symbols: readonly ElfSymbol[];
}

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const STT_FUNC = 2;

function read(fd: number, offset: bigint | number, length: number): DataView {
  const buf = Buffer.alloc(length);
  const got = readSync(fd, buf, 0, length, Number(offset));
  return new DataView(buf.buffer, buf.byteOffset, got);
}

/** Reads the symbols of `path`; undefined when it is not a readable ELF64 little-endian file. */
export function readElfSymbols(path: string): ElfSymbols | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const eh = read(fd, 0, 64);
    // \x7fELF, ELFCLASS64, ELFDATA2LSB
    if (eh.byteLength < 64 || eh.getUint32(0, false) !== 0x7f454c46 || eh.getUint8(4) !== 2 || eh.getUint8(5) !== 1) {
      return undefined;
    }
    const phoff = eh.getBigUint64(32, true);
    const shoff = eh.getBigUint64(40, true);
    const phentsize = eh.getUint16(54, true);
    const phnum = eh.getUint16(56, true);
    const shentsize = eh.getUint16(58, true);
    const shnum = eh.getUint16(60, true);

    const loads: { offset: bigint; vaddr: bigint; filesz: bigint }[] = [];
    const ph = read(fd, phoff, phentsize * phnum);
    for (let i = 0; i < phnum && (i + 1) * phentsize <= ph.byteLength; i++) {
      const at = i * phentsize;
      if (ph.getUint32(at, true) !== PT_LOAD) continue;
      loads.push({
        offset: ph.getBigUint64(at + 8, true),
        vaddr: ph.getBigUint64(at + 16, true),
        filesz: ph.getBigUint64(at + 32, true),
      });
    }

    const sections: { type: number; offset: bigint; size: bigint; link: number; entsize: bigint }[] = [];
    const sh = read(fd, shoff, shentsize * shnum);
    for (let i = 0; i < shnum && (i + 1) * shentsize <= sh.byteLength; i++) {
      const at = i * shentsize;
      sections.push({
        type: sh.getUint32(at + 4, true),
        offset: sh.getBigUint64(at + 24, true),
        size: sh.getBigUint64(at + 32, true),
        link: sh.getUint32(at + 40, true),
        entsize: sh.getBigUint64(at + 56, true),
      });
    }
    const table = sections.find((s) => s.type === SHT_SYMTAB) ?? sections.find((s) => s.type === SHT_DYNSYM);
    const strtab = table ? sections[table.link] : undefined;
    const symbols: ElfSymbol[] = [];
    if (table && strtab && table.entsize >= 24n) {
      const syms = read(fd, table.offset, Number(table.size));
      const strs = read(fd, strtab.offset, Number(strtab.size));
      const names = new Uint8Array(strs.buffer, strs.byteOffset, strs.byteLength);
      const decoder = new TextDecoder();
      const entsize = Number(table.entsize);
      for (let at = 0; at + 24 <= syms.byteLength; at += entsize) {
        if ((syms.getUint8(at + 4) & 0xf) !== STT_FUNC) continue;
        const address = syms.getBigUint64(at + 8, true);
        if (address === 0n) continue;
        const nameAt = syms.getUint32(at, true);
        const end = names.indexOf(0, nameAt);
        symbols.push({
          address,
          size: syms.getBigUint64(at + 16, true),
          name: decoder.decode(names.subarray(nameAt, end === -1 ? names.length : end)),
        });
      }
    }
    symbols.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    return { loads, symbols };
  } finally {
    closeSync(fd);
  }
}

/** The symbol containing `address` (or, for a symbol of size 0, the closest one below), else undefined. */
export function findSymbol<T extends { address: bigint; size: bigint }>(
  sorted: readonly T[],
  address: bigint,
): T | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.address <= address) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const found = best >= 0 ? sorted[best] : undefined;
  if (!found) return undefined;
  return found.size === 0n || address < found.address + found.size ? found : undefined;
}
