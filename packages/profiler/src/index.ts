export { ProfLayout, BucketState, ProfCounter, renderProfilerHeader, HEADER_COMMAND, profStructs } from './layout.js';
export { loadProfiler, encodeSettings, profilerObjectPath, profilerNames, ProfilerErrorCode } from './programs.js';
export type { Bucket, BucketStateName, LabelSpec, Profiler, ProfilerOptions, ProfilerReading } from './programs.js';
export { loadRouteProfile, ROUTE_KEY_BYTES } from './route-profile.js';
export type {
  RouteProfile,
  RouteProfileOptions,
  RouteProfileReading,
  RouteTotal,
  RouteBucketState,
} from './route-profile.js';
export { Symbolizer, readPerfMap } from './symbols.js';
export type { Frame } from './symbols.js';
export { readElfSymbols, findSymbol } from './elf.js';
export type { ElfSymbol, ElfSymbols } from './elf.js';
export { buildProfile, toPprof, toFolded, labelText, bucketLabels, BETWEEN_REQUESTS, NO_VALUE } from './profile.js';
export type { CpuProfile, ProfileSample } from './profile.js';
export { toSvg } from './svg.js';
