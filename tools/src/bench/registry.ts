// The case modules `pnpm bench` runs. Each exports `CASES`: BenchCases (a `run` measuring in its trial process) or
// PairCases (a `setup` giving a candidate and a baseline loop, timed in one process). To add cases, add a module
// here as './name.js' (relative to the compiled dist/bench/).
import { type PairCase, isPairCase, pairCase } from './pair.js';
import type { BenchCase } from './types.js';

const CASE_MODULES: readonly string[] = [
  './cases-js.js',
  './cases-alternatives.js',
  './cases-bpf.js',
  './cases-registration.js',
  './cases-async-context.js',
  './cases-http.js',
  './cases-profile.js',
  './cases-context.js',
  './cases-otel.js',
];

interface CaseModule {
  readonly CASES?: readonly (BenchCase | PairCase)[];
}

/** Every case of every module, in module order. Throws when a module has no CASES or two cases share an id. */
export async function loadCases(): Promise<BenchCase[]> {
  const cases: BenchCase[] = [];
  for (const specifier of CASE_MODULES) {
    const module = (await import(new URL(specifier, import.meta.url).href)) as CaseModule;
    const moduleCases: unknown = module.CASES;
    if (!Array.isArray(moduleCases)) throw new Error(`bench case module ${specifier} exports no CASES array`);
    for (const c of moduleCases as readonly (BenchCase | PairCase)[]) cases.push(isPairCase(c) ? pairCase(c) : c);
  }
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.id)) throw new Error(`two bench cases have the id ${JSON.stringify(c.id)}`);
    seen.add(c.id);
  }
  return cases;
}
