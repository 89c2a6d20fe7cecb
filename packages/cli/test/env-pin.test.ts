// TLD_PIN names the pin for every command that takes --pin; --pin wins over it. The same variable points
// TaskLocalData.open() at the map (tested in @tld/userspace), so one export serves the app and the CLI.
import { existsSync } from 'node:fs';
import { bpfSupport, uniquePinPath } from '@tld/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { json, run, startConsumer } from './helpers.js';

const bpf = bpfSupport();
const pins: string[] = [];
afterEach(() => {
  for (const pin of pins.splice(0)) if (existsSync(pin)) run(['map', 'rm', '--pin', pin, '--force']);
});

function freshPin(): string {
  const pin = uniquePinPath('env');
  pins.push(pin);
  return pin;
}

describe('TLD_PIN', () => {
  it('a relative or empty TLD_PIN is a usage error naming the variable', () => {
    for (const value of ['tld_data_map', '']) {
      const result = run(['map', 'show'], { env: { ...process.env, TLD_PIN: value } });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain("from env 'TLD_PIN' is invalid");
    }
  });

  it('every command with --pin says so in its help', () => {
    for (const command of [['status'], ['map', 'create'], ['map', 'show'], ['map', 'rm'], ['dump']]) {
      expect(run([...command, '--help']).stdout).toContain('env: TLD_PIN');
    }
  });

  describe.skipIf(!bpf.supported)('against the kernel', () => {
    it('map create, show, dump, status and rm use the pin TLD_PIN names; --pin wins', async () => {
      const pin = freshPin();
      const env = { ...process.env, TLD_PIN: pin };
      // Read-only first: were TLD_PIN ignored, nothing would be made at the default pin.
      expect(run(['map', 'create', '--pin', pin]).status).toBe(0);
      expect(json(run(['map', 'show', '--json'], { env }))).toMatchObject({ ok: true, pin });
      expect(json(run(['map', 'create', '--json'], { env }))).toMatchObject({ ok: true, pin, created: false });
      const status = json(run(['status', '--json'], { env }));
      expect(status['checks']).toContainEqual(
        expect.objectContaining({ name: 'pin', ok: true, detail: expect.stringContaining(pin) as unknown }),
      );

      // The consumer takes its pin as an argument; the dump finds it through TLD_PIN alone.
      const consumer = await startConsumer(pin);
      try {
        const dumped = json(run(['dump', '--pid', String(consumer.pid), '--json'], { env }));
        expect(dumped).toMatchObject({ ok: true, pin });
        expect((dumped['threads'] as unknown[]).length).toBe(2);
      } finally {
        expect(await consumer.stop()).toBe(0);
      }

      const other = freshPin();
      expect(json(run(['map', 'create', '--pin', other, '--json'], { env }))).toMatchObject({
        ok: true,
        pin: other,
        created: true,
      });
      expect(json(run(['map', 'rm', '--json'], { env }))).toMatchObject({ ok: true, pin, removed: true });
      expect(existsSync(pin)).toBe(false);
      expect(existsSync(other)).toBe(true);

      // Made through TLD_PIN alone.
      expect(json(run(['map', 'create', '--json'], { env }))).toMatchObject({ ok: true, pin, created: true });
    });
  });
});
