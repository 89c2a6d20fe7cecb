// Test support only: whether BPF works here, fixture maps, fresh pin paths. Nothing shipped depends on this
// package; what the tests load and run comes from @tld/bpf-programs.
export { bpfRequired, bpfSupport, kernelAtLeast, UPTR_MIN_KERNEL } from './support.js';
export type { BpfSupport } from './support.js';
export { loadFixtures, uniquePinPath, fileMode } from './fixtures.js';
export type { Fixtures } from './fixtures.js';
export { burnServicePath } from './services.js';
export { NotSupportedError } from '@tld/protocol';
