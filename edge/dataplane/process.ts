// Running a helper program (nft, conntrack) with input on stdin; injected into the ports that use it.
import { spawn } from 'node:child_process'

export interface ProcessResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a program with stdin; injected so tests can count or fake invocations. */
export type RunProcess = (file: string, args: readonly string[], stdin: string) => Promise<ProcessResult>

export const spawnProcess: RunProcess = (file, args, stdin) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
    if (child.stdin) {
      // A program that exits without reading its input (nft on a bad option) would make the write
      // fail with EPIPE; its exit status and stderr already tell what went wrong.
      child.stdin.on('error', () => undefined)
      child.stdin.end(stdin)
    }
  })

