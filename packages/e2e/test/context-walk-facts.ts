// The walk facts a thread publishes (key `tld.walk`, struct tld_walk), read and changed from JavaScript: whether
// run() on this thread uses the walk, and the proof's control, which corrupts them.
import type { TaskLocalData } from '@tld/userspace';
import { WALK_KEY_NAME, WALK_SIZE, WALK_VERSION, type WalkFacts, decodeWalk, encodeWalk } from '@tld/protocol';

function factsKey(tld: TaskLocalData): ReturnType<TaskLocalData['bytes']> {
  return tld.bytes(WALK_KEY_NAME, WALK_SIZE);
}

/** Whether run() uses the walk on this thread and its page holds valid facts (version stored). */
export function walkInUse(tld: TaskLocalData): boolean {
  return tld.asyncContext === 'walk' && decodeWalk(factsKey(tld).get()).version === WALK_VERSION;
}

/**
 * Replaces some of this thread's published facts (call it outside any run: set() inside one writes the run's
 * record); `change` gets the facts as published. Returns a function that restores them.
 */
export function corruptFacts(tld: TaskLocalData, change: (facts: WalkFacts) => Partial<WalkFacts>): () => void {
  const key = factsKey(tld);
  const before = key.get().slice();
  const { version, ...facts } = decodeWalk(before);
  key.set(encodeWalk({ ...facts, ...change(facts) }, version));
  return () => key.set(before);
}
