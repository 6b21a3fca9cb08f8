// Runs `sdwan-edge reflect` as its own process (optionally inside a network namespace), so the reflector
// has its own event loop and CPU accounting, and tests exercise the real command.
import { spawn, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { join } from 'node:path'

const repo = join(import.meta.dirname, '../../..')
const bin = join(repo, 'edge/cli/bin.ts')

export interface ReflectorProcess {
  readonly child: ChildProcess
  /** Sends SIGTERM and resolves with everything the command printed and its exit code. */
  stop(): Promise<{ code: number | null; stdout: string; stderr: string }>
}

export async function startReflectorProcess(args: string[], netns?: string): Promise<ReflectorProcess> {
  const argv = [...(netns ? ['ip', 'netns', 'exec', netns] : []), process.execPath, '--import', 'tsx', bin, 'reflect', ...args]
  const child = spawn(argv[0]!, argv.slice(1), { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', d => (stdout += d))
  child.stderr!.on('data', d => (stderr += d))
  const exited = once(child, 'exit')
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (stdout.includes('reflecting STAMP')) resolve()
    }
    child.stdout!.on('data', check)
    child.once('exit', code => reject(new Error(`reflector exited (${code}) before listening: ${stderr}`)))
  })
  return {
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      const [code] = (await exited) as [number | null]
      return { code, stdout, stderr }
    },
  }
}

/** A UDP port that was free a moment ago on `address`. */
export async function freeUdpPort(address = '127.0.0.1'): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>(resolve => s.bind(0, address, resolve))
  const { port } = s.address()
  await new Promise<void>(resolve => s.close(() => resolve()))
  return port
}
