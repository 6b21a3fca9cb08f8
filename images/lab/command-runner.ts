// The one side effect the lab shell needs: run a program with arguments (optionally feeding stdin)
// and collect its output. Builders take a `CommandRunner` so their tests can record commands instead.
import { spawn } from 'node:child_process'

export interface CommandResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export interface CommandRequest {
  readonly argv: readonly string[]
  /** Text written to the program's stdin (e.g. an `ip -batch -` script); stdin is closed otherwise. */
  readonly input?: string
  /** Working directory; the caller's when absent. */
  readonly cwd?: string
}

export type CommandRunner = (request: CommandRequest) => Promise<CommandResult>

/** Raised when a command the lab relies on exits non-zero; says which command and what it printed. */
export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError'
  constructor(
    readonly argv: readonly string[],
    readonly result: CommandResult,
    readonly input?: string,
  ) {
    const where = input === undefined ? '' : `\n--- stdin ---\n${input.trimEnd()}`
    super(`\`${argv.join(' ')}\` exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}${where}`)
  }
}

/** Runs the request and throws CommandFailedError on a non-zero exit. */
export async function runChecked(run: CommandRunner, request: CommandRequest): Promise<CommandResult> {
  const result = await run(request)
  if (result.code !== 0) throw new CommandFailedError(request.argv, result, request.input)
  return result
}

/** The real runner: child_process.spawn without a shell, so arguments are never re-parsed. */
export function spawnCommandRunner(): CommandRunner {
  return request =>
    new Promise((resolve, reject) => {
      const [file, ...args] = request.argv
      if (file === undefined) {
        reject(new Error('spawnCommandRunner: empty argv'))
        return
      }
      const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: request.cwd })
      const out: Buffer[] = []
      const err: Buffer[] = []
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
      child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
      child.on('error', error => reject(new Error(`cannot run ${file}: ${error.message}`)))
      child.on('close', (code, signal) =>
        resolve({
          code: code ?? (signal === null ? 1 : 128),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8') + (signal === null ? '' : `killed by ${signal}`),
        }),
      )
      // A program that exits before reading all of stdin closes the pipe; its exit code tells the story.
      child.stdin.on('error', () => {})
      child.stdin.end(request.input ?? '')
    })
}
