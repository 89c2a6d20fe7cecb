// The command line itself: version, help for every command, exit status 2 for usage errors (and nothing done).
// No BPF needed: these never reach the kernel.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { run } from './helpers.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const COMMANDS = [['status'], ['map'], ['map', 'create'], ['map', 'show'], ['map', 'rm'], ['dump'], ['header']];
const LEAVES = COMMANDS.filter((c) => c.join(' ') !== 'map');

describe('tld usage', () => {
  it('--version and -V print the package version', () => {
    for (const flag of ['--version', '-V']) {
      const result = run([flag]);
      expect(result.status).toBe(0);
      expect(result.stdout.trim()).toBe(version);
    }
  });

  it("--help on every command and subcommand prints that command's usage, exit 0", () => {
    for (const command of COMMANDS) {
      const result = run([...command, '--help']);
      expect(result.status, command.join(' ')).toBe(0);
      expect(result.stdout).toContain(`Usage: tld ${command.join(' ')}`);
    }
  });

  it('tld help <command> [<subcommand>] prints the same usage', () => {
    for (const command of COMMANDS) {
      const result = run(['help', ...command]);
      expect(result.status, command.join(' ')).toBe(0);
      expect(result.stdout).toBe(run([...command, '--help']).stdout);
    }
  });

  it('every leaf command takes -j/--json; the global help lists the exit statuses', () => {
    for (const command of LEAVES) expect(run([...command, '--help']).stdout).toMatch(/-j, --json/);
    const help = run(['--help']).stdout;
    expect(help).toMatch(/Exit status:\n\s+0 .*\n\s+1 .*\n\s+2 /);
  });

  it.each([
    [['frob'], /unknown command 'frob'/],
    [['help', 'frob'], /unknown command 'frob'/],
    [['map', 'frob'], /unknown command 'frob'/],
    [['map', 'create', '--bogus'], /unknown option '--bogus'/],
    [['map', 'create', '--mode', '0644'], /others must get no permission/],
    [['map', 'create', '--mode', '0400'], /owner needs read and write/],
    [['map', 'create', '--mode', 'rw'], /octal mode/],
    [['map', 'create', '--group', 'no-such-group-tld'], /no group named 'no-such-group-tld'/],
    [['map', 'show', '--pin', 'relative/pin'], /absolute file path/],
    [['dump', '--pid', '-3'], /process id/],
    [['dump', '--watch', '0'], /seconds between refreshes/],
    [['header', '--print', 'stdio.h'], /choose one of tld.bpf.h/],
  ])('usage error %j: exit 2 with the reason on stderr', (args, reason) => {
    const result = run(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(reason);
    expect(result.stdout).toBe('');
  });

  it('a usage error changes nothing: no pin, no directory', () => {
    const pin = `/sys/fs/bpf/tld-test-usage-${process.pid}/tld_data_map`;
    expect(run(['map', 'create', '--pin', pin, '--mode', '0666']).status).toBe(2);
    expect(existsSync(pin)).toBe(false);
    expect(existsSync(`/sys/fs/bpf/tld-test-usage-${process.pid}`)).toBe(false);
  });

  it('tld alone prints the help on stderr with exit 2', () => {
    const result = run([]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('Usage: tld [options] [command]');
  });
});
