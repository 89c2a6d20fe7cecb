// The C headers BPF authors include, found the one way every consumer finds them: through the packages'
// `exports` (`@tld/bpf-programs/include/*`, `@tld/protocol/include/tld_layout.h`).
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const require = createRequire(import.meta.url);

/** Absolute path of a header exported by a package, e.g. headerPath('@tld/protocol/include/tld_layout.h'). */
export function headerPath(specifier: string): string {
  return require.resolve(specifier);
}

/**
 * Include directories for a BPF program using tld.bpf.h: this package's include/ (tld.bpf.h, tld_reader.h) and
 * @tld/protocol's (the generated tld_layout.h), wherever the package manager installed them.
 */
export const includeDirs: readonly string[] = Object.freeze([
  dirname(headerPath('@tld/bpf-programs/include/tld.bpf.h')),
  dirname(headerPath('@tld/protocol/include/tld_layout.h')),
]);
