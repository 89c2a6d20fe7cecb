// Test support only: whether BPF works here, fixture maps and programs, fresh pin paths, pages of a test's own,
// and the benchmark and lifecycle programs. Nothing shipped depends on this package.
export { bpfRequired, bpfSupport, kernelAtLeast, UPTR_MIN_KERNEL } from './support.js';
export type { BpfSupport } from './support.js';
export { loadFixtures, uniquePinPath, fileMode, pinFixtureMaps, pinHashMap } from './fixtures.js';
export type { Fixtures, FixtureMapName, PinnedMaps } from './fixtures.js';
export { objectPaths, names } from './objects.js';
export {
  BenchLayout,
  TraceLayout,
  TraceStep,
  LifecycleLayout,
  ContextLayout,
  ContextSampleKind,
  OtelHeaderLayout,
  renderTestkitHeader,
  TESTKIT_HEADER_COMMAND,
} from './layout.js';
export { CONTEXT_KEYS, loadContextReader, readContextOnThisThread } from './context.js';
export type {
  ContextKey,
  ContextKeyReading,
  ContextReading,
  ContextReader,
  ContextResult,
  ContextSample,
} from './context.js';
export { loadOtelHeaderReader } from './otel-header.js';
export type { OtelHeaderReader, OtelHeaderReading } from './otel-header.js';
export { loadBenchPrograms, runBench, traceOnThisThread, BENCH_KEY_NAMES, BENCH_CONFIGS } from './bench.js';
export type { BenchPrograms, BenchRun, BenchKind, TraceResult } from './bench.js';
export { watchLifecycle } from './lifecycle.js';
export type { LifecycleStats, LifecycleWatch } from './lifecycle.js';
export { mapPage, unmapPage, unmapPages, pagesWith, register, unregister, addKey } from './own-pages.js';
export type { OwnPage, OwnPages, KeySpec } from './own-pages.js';
export { readmeExample } from './readme.js';
export { compileBpf } from './clang.js';
export { installedNode, installedNodes, nodeCacheDir, printWalkReport, runNodeScript, walkConfigs } from './nodes.js';
export type { InstalledNode, WalkChildReport, WalkNode } from './nodes.js';
export { NotSupportedError } from '@tld/protocol';
