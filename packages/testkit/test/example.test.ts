// The README's BPF example (packages/bpf-programs/examples/req_trace.bpf.c) passes the verifier.
import { describe, expect, it } from 'vitest';
import { loadObject, objectPaths } from '@tld/bpf-programs';
import { bpfSupport } from '@tld/testkit';

const support = bpfSupport();

describe.skipIf(!support.supported)('README example', () => {
  it('loads (tld_data_map private) with its program and maps', () => {
    const obj = loadObject(objectPaths.example);
    try {
      expect(Object.keys(obj.progs)).toEqual(['on_sys_enter']);
      expect(obj.maps).toHaveProperty('tld_data_map');
      expect(obj.maps).toHaveProperty('tld_key_map');
      expect(obj.createdPins).toEqual([]);
    } finally {
      obj.close();
    }
  });
});
