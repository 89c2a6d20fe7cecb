// The `tld` command line: commander parses, each command in src/commands/ acts. Exit status 0 ok, 1 failure,
// 2 usage error (ExitCode); -j/--json on every command.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { dumpCommand } from './commands/dump.js';
import { headerCommand } from './commands/header.js';
import { mapCommand } from './commands/map.js';
import { profileCommand } from './commands/profile.js';
import { statusCommand } from './commands/status.js';
import { topCommand } from './commands/top.js';
import { ExitCode, type RunState } from './output.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const EPILOG = `
Exit status:
  0  the command did what it was asked (tld status: every check is ok)
  1  it failed, or tld status found something missing: the message names the cause and the fix
  2  usage error: unknown command or option, or a bad value; nothing was done

Examples:
  sudo npx tld status                      # can this host run task local data?
  sudo npx tld map create                  # pin /sys/fs/bpf/tld_data_map (mode 0600)
  sudo npx tld dump --json                 # every registered thread with its values
  npx tld header                           # where tld.bpf.h is, with the -I flags
  sudo npx tld top --by route,tenant       # live CPU time per route and tenant
  sudo npx tld profile --pid 1234 -o out.pb.gz   # CPU profile labelled by route, for pprof`;

/** The commander program; commands record their exit status in `state`. */
export function createProgram(state: RunState): Command {
  const program = new Command('tld')
    .description(
      'Task local data on this host: check it, manage the shared map, dump what every thread published, profile CPU by value',
    )
    .version(version, '-V, --version', 'print the version of tld')
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .showHelpAfterError('(tld help <command> shows its usage)')
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
    })
    .addHelpText('after', EPILOG);
  statusCommand(program, state);
  mapCommand(program, state);
  dumpCommand(program, state);
  headerCommand(program, state);
  topCommand(program, state);
  profileCommand(program, state);
  helpCommand(program);
  return program;
}

/** `tld help map create`: commander's own help command only looks one level down. */
function helpCommand(program: Command): void {
  program.helpCommand(false);
  program
    .command('help [command...]')
    .description('show help for a command, e.g. tld help map create')
    .action((names: string[]) => {
      let command = program;
      for (const name of names) {
        const sub = command.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (!sub)
          command.error(`unknown command '${name}' (tld --help lists them)`, { code: 'commander.unknownCommand' });
        else command = sub;
      }
      command.outputHelp();
    });
}

/** Runs tld with `argv` (as process.argv: node, script, args...) and returns the exit status. */
export async function run(argv: readonly string[]): Promise<ExitCode> {
  const state: RunState = { exitCode: ExitCode.OK };
  try {
    await createProgram(state).parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    throw error;
  }
  return state.exitCode;
}
