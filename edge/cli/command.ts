// One CLI subcommand: its help text, its options (node:util parseArgs syntax) and what it does.
// Commands get their side effects through `CliIo` so tests can run them in-process.
import type { ParseArgsConfig } from 'node:util'

export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly cwd: string
  readonly env: NodeJS.ProcessEnv
  readonly isTTY: boolean
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>
  readonly positionals: string[]
}

export interface Command {
  readonly name: string
  /** One line for `sdwan-edge --help`. */
  readonly summary: string
  /** The full `sdwan-edge NAME --help` text, usage line first. */
  readonly help: string
  readonly options: NonNullable<ParseArgsConfig['options']>
  /** Returns the process exit status: 0 ok, 1 failure, 2 bad input. */
  run(args: ParsedArgs, io: CliIo): Promise<number>
}

/** Thrown for bad command-line input; main prints it with the command's usage line and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}
