// Running a CLI command inside a named network namespace. A netlink socket lives in the namespace of
// the thread that opens it and Node cannot setns(2), so the command is re-executed under
// `ip netns exec NAME` (which also bind-mounts the namespace's /etc/netns files, as iproute2 does).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The CLI entry next to this build: edge/cli/bin.ts under tsx, dist/edge/cli/bin.js when built. */
export function cliEntry(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
  return fileURLToPath(new URL(`../cli/bin${ext}`, import.meta.url))
}

export interface Output {
  stdout(text: string): void
  stderr(text: string): void
}

/** Runs `sdwan-edge ARGS…` in netns `name`; resolves with its exit status. */
export function runCliInNetns(name: string, args: readonly string[], out: Output, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise(resolve => {
    const child = spawn('ip', ['netns', 'exec', name, process.execPath, ...process.execArgv, cliEntry(), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    })
    child.stdout.setEncoding('utf8').on('data', (d: string) => out.stdout(d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => out.stderr(d))
    child.on('error', err => {
      out.stderr(`cannot run ip netns exec: ${err.message}\n`)
      resolve(1)
    })
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
  })
}
