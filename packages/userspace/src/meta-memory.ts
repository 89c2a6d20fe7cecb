// The process's metadata page as the AtomicMemory that @tld/protocol's createKey runs over.
import { TypedArrayMemory } from '@tld/protocol';
import { native } from './native.js';

/**
 * AtomicMemory whose claimSlot runs in native code: a worker terminated while creating a key cannot stop
 * between claiming a slot and publishing it, which would make every later creator in the process wait on it.
 */
export class MetaPageMemory extends TypedArrayMemory {
  claimSlot(expectedCnt: number, index: number, nameField: Uint8Array, size: number): boolean {
    return native.claimSlot(this.bytes, expectedCnt, index, nameField, size);
  }
}
