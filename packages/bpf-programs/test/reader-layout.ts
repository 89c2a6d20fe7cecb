import { ReaderLayout } from '../src/index.js';

/** Every number of ReaderLayout under one flat name, as the layout tests compare them with C's. */
export function readerLayoutFields(): Record<string, number> {
  return {
    ctxSize: ReaderLayout.ctxSize,
    maxKeys: ReaderLayout.maxKeys,
    nrKeys: ReaderLayout.nrKeysOffset,
    status: ReaderLayout.statusOffset,
    tid: ReaderLayout.tidOffset,
    tgid: ReaderLayout.tgidOffset,
    start: ReaderLayout.startOffset,
    metaCnt: ReaderLayout.metaCntOffset,
    metaSize: ReaderLayout.metaSizeOffset,
    keys: ReaderLayout.keysOffset,
    keySize: ReaderLayout.keySize,
    nameBytes: ReaderLayout.nameBytes,
    valueBytes: ReaderLayout.valueBytes,
    ...ReaderLayout.key,
  };
}
