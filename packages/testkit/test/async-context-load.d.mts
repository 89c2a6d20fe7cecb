import type { F64Key, StringKey, TaskLocalData, U64Key } from '@tld/userspace';

export const ROUTE_SIZE: number;
export const NAMES: readonly string[];
export interface Values {
  req_id: bigint;
  route: string;
  weight: number;
  mark: bigint;
}
export interface Keys {
  req_id: U64Key;
  route: StringKey;
  weight: F64Key;
  mark: U64Key;
}
export interface WorkloadResult {
  checkpoints: number;
  mismatchCount: number;
  /** The first ten mismatches, described. */
  mismatches: string[];
  /** Checkpoints per place in the task (await, setTimeout callback, ...). */
  byPlace: Record<string, number>;
}
export function createKeys(tld: TaskLocalData): Keys;
export function threadValues(thread: number): Values;
export function taskValues(thread: number, i: number): Values;
export function setValues(keys: Keys, values: Values): void;
export function runWorkload(options: {
  tld: TaskLocalData;
  keys: Keys;
  progFd: number;
  thread: number;
  tasks: number;
  rounds: number;
  mode: 'run' | 'set' | 'none';
}): Promise<WorkloadResult>;
