// node-gyp-build ships no types; install-test.cjs uses this one function.
declare module 'node-gyp-build' {
  /** Path of the addon for this platform: build/Release when built from source, else the matching prebuild. */
  export function path(dir: string): string;
}
