// Running a helper program (nft) with input on stdin; injected into the port that uses it.
import { spawn } from 'node:child_process'

export interface ProcessResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs a program with stdin; injected so tests can count or fake invocations. Given a promise for
 * stdin, the program starts at once and reads its input when the promise resolves, so its start-up
 * overlaps whatever produces the go-ahead.
 */
export type RunProcess = (file: string, args: readonly string[], stdin: string | Promise<string>) => Promise<ProcessResult>

export const spawnProcess: RunProcess = (file, args, stdin) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: [stdin === '' ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
    const input = child.stdin
    if (input) {
      // A program that exits without reading its input (nft on a bad option) would make the write
      // fail with EPIPE; its exit status and stderr already tell what went wrong.
      input.on('error', () => undefined)
      Promise.resolve(stdin).then(
        text => input.end(text),
        () => input.end(),
      )
    }
  })

