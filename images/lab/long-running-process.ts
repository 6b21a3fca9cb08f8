// A child process the lab keeps running for a while (QEMU, a broker): output as it arrives, its exit,
// and a way to signal it. Injected wherever the lab starts one, so tests can script the process.
import { spawn } from 'node:child_process'

export interface LongRunningProcess {
  /** The process id (undefined if it could not start). */
  readonly pid?: number | undefined
  onStdout(listener: (text: string) => void): void
  onStderr(listener: (text: string) => void): void
  /** Resolves with the exit code (null when ended by a signal); rejects if the program cannot start. */
  readonly exited: Promise<number | null>
  kill(signal?: NodeJS.Signals): void
}

export type SpawnLongRunning = (argv: readonly string[]) => LongRunningProcess

export const spawnLongRunning: SpawnLongRunning = argv => {
  const [file, ...args] = argv
  if (file === undefined) throw new Error('spawnLongRunning: empty argv')
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', error => reject(new Error(`cannot start ${file}: ${error.message}`)))
    child.on('close', code => resolve(code))
  })
  return {
    pid: child.pid,
    onStdout: listener => child.stdout.on('data', (chunk: Buffer) => listener(chunk.toString('utf8'))),
    onStderr: listener => child.stderr.on('data', (chunk: Buffer) => listener(chunk.toString('utf8'))),
    exited,
    kill: (signal = 'SIGKILL') => {
      child.kill(signal)
    },
  }
}

/**
 * Turns a process's output chunks into whole lines: each complete line goes to `onLine` as it arrives,
 * a line cut across two chunks once both are in.
 */
export function lineSplitter(onLine: (line: string) => void): (text: string) => void {
  let partial = ''
  return text => {
    const lines = (partial + text).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) onLine(line)
  }
}
