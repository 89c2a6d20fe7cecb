// One trial of one case, in a fresh process forked by run.ts: runs the case and sends its measurements back.
// Usage (from run.ts, with an IPC channel): node trial.js <case id> <options as JSON>
import { loadCases } from './registry.js';
import type { TrialOptions, TrialResult } from './types.js';

const [caseId, optionsJson] = process.argv.slice(2);
if (!caseId || !optionsJson || !process.send)
  throw new Error('usage: trial.js <case id> <options JSON> (forked by run.js)');
const options = JSON.parse(optionsJson) as TrialOptions;
const benchCase = (await loadCases()).find((c) => c.id === caseId);
if (!benchCase) throw new Error(`unknown case ${JSON.stringify(caseId)}`);

const measurements = await benchCase.run(options);
for (const m of measurements) {
  if (!Number.isFinite(m.value) || m.value <= 0) throw new Error(`${m.name}: measured ${m.value} ${m.unit}`);
}
const result: TrialResult = { id: benchCase.id, measurements };
process.send(result, () => process.disconnect());
