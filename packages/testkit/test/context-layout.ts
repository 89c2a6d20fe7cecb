// Provisional: the offsets of struct tld_walk and struct tld_ctx_record (include/tld_walk_provisional.h of
// @tld/bpf-programs) until @tld/protocol defines them.
export const WalkLayout = Object.freeze({
  size: 64,
  version: 0,
  alsHash: 4,
  cpedSlot: 8,
  noFrame: 16,
  recordMagic: 24,
  keyHashOff: 32,
  frameTableOff: 34,
  tableNelementsOff: 36,
  tableNdeletedOff: 38,
  tableNbucketsOff: 40,
  tableBucketsOff: 42,
  entryWords: 44,
  entryKey: 46,
  entryValue: 48,
  entryChain: 50,
  storeRecordOff: 52,
});

export const RecordLayout = Object.freeze({
  size: 40,
  magic: 0,
  self: 8,
  seq: 16,
  valid: 20,
  valuesOff: 24,
  valuesSize: 28,
  presentOff: 32,
});
