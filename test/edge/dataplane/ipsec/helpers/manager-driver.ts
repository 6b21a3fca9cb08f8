// The parent side of manager-child.ts: spawns it inside a namespace, sends commands, and keeps the
// latest tunnel states it reported, with waits on them (performance.now() stamps for the benchmark).
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const CHILD = fileURLToPath(new URL('./manager-child.ts', import.meta.url))

export type States = Record<string, { up?: boolean; reason?: string; pid?: number }>

export class ManagerDriverError extends Error {
  override readonly name = 'ManagerDriverError'
}

export interface ManagerDriver {
  readonly states: States
  readonly log: string[]
  /** Resolves once the child has loaded and reads commands. */
  readonly ready: Promise<void>
  /** Sends a command; resolves when the child says ok, rejects on error. */
  command(line: string): Promise<void>
  /** Sends a command without waiting for it; returns performance.now() at the write. */
  send(line: string): number
  waitFor(predicate: (s: States) => boolean, what: string, timeoutMs?: number): Promise<States>
  kill(): void
  readonly exited: Promise<number | null>
}

export function startManagerChild(netns: string, policyFile: string, options: object): ManagerDriver {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, process.execPath, '--import', 'tsx', CHILD, policyFile, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let states: States = {}
  const log: string[] = []
  const waiters: Array<() => void> = []
  const replies: Array<{ resolve: () => void; reject: (e: Error) => void }> = []
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  let isReady!: () => void
  const ready = new Promise<void>(resolve => (isReady = resolve))
  void exited.then(code => {
    for (const r of replies.splice(0)) r.reject(new ManagerDriverError(`manager child exited (${code}):\n${log.slice(-20).join('\n')}`))
    for (const w of waiters.splice(0)) w()
  })
  createInterface({ input: child.stderr! }).on('line', line => log.push(line))
  createInterface({ input: child.stdout! }).on('line', line => {
    log.push(line)
    if (line === 'ready') isReady()
    else if (line.startsWith('state ')) {
      states = JSON.parse(line.slice(6)) as States
      for (const w of waiters.splice(0)) w()
    } else if (line.startsWith('ok ')) replies.shift()?.resolve()
    else if (line.startsWith('error ')) replies.shift()?.reject(new ManagerDriverError(line.slice(6)))
  })
  const send = (line: string): number => {
    const at = performance.now()
    child.stdin!.write(`${line}\n`)
    return at
  }
  return {
    get states() {
      return states
    },
    log,
    ready: Promise.race([ready, exited.then(code => Promise.reject(new ManagerDriverError(`manager child exited (${code}) before it was ready:\n${log.slice(-20).join('\n')}`)))]),
    send,
    command: line =>
      new Promise<void>((resolve, reject) => {
        replies.push({ resolve, reject })
        send(line)
      }),
    async waitFor(predicate, what, timeoutMs = 60_000) {
      const until = performance.now() + timeoutMs
      while (!predicate(states)) {
        if (child.exitCode !== null) throw new ManagerDriverError(`manager child exited while waiting for ${what}`)
        const left = until - performance.now()
        if (left <= 0) throw new ManagerDriverError(`no ${what} within ${timeoutMs} ms; states ${JSON.stringify(states)}\n${log.slice(-20).join('\n')}`)
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, Math.min(left, 1000))
          waiters.push(() => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
      return states
    },
    kill: () => void child.kill('SIGTERM'),
    exited,
  }
}
