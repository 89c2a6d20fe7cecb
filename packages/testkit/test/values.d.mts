import type { TaskLocalData, U64Key, U32Key, I64Key, F64Key, StringKey, BytesKey } from '@tld/userspace';

export const STRING_SIZE: number;
export const BYTES_SIZE: number;
export const KEY_NAMES: readonly KeyName[];
export type KeyName = 't_u64' | 't_u32' | 't_i64' | 't_f64' | 't_str' | 't_bytes';
export interface Values {
  t_u64: bigint;
  t_u32: number;
  t_i64: bigint;
  t_f64: number;
  t_str: string;
  t_bytes: Uint8Array;
}
export interface Keys {
  t_u64: U64Key;
  t_u32: U32Key;
  t_i64: I64Key;
  t_f64: F64Key;
  t_str: StringKey;
  t_bytes: BytesKey;
}
export function valuesFor(i: number): Values;
export function createKeys(tld: TaskLocalData): Keys;
export function setAll(keys: Keys, values: Values): void;
export function expectedBytes(values: Values): Record<KeyName, Uint8Array>;
