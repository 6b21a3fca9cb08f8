// Two throwaway network namespaces joined by a veth pair, for tests that run real charon daemons.
// Names carry a prefix and the test's pid so parallel runs and leftovers from crashed runs never collide.
import { execFile, spawn } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'

const run = promisify(execFile)

export async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args)
  return stdout
}

export interface NetnsPair {
  readonly a: { readonly netns: string; readonly underlay: string; readonly inner: string }
  readonly b: { readonly netns: string; readonly underlay: string; readonly inner: string }
  destroy(): Promise<void>
}

/** Why real-charon tests cannot run here, or undefined if they can. */
export async function missingCapability(charonPath: string): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'needs Linux network namespaces'
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces'
  try {
    await access(charonPath, constants.X_OK)
  } catch {
    return `${charonPath} not installed (images/setup-host.sh installs charon-systemd)`
  }
  try {
    await access('/dev/net/tun', constants.R_OK | constants.W_OK)
  } catch {
    return '/dev/net/tun missing: kernel-libipsec needs TUN'
  }
  try {
    await run('ip', ['-V'])
  } catch {
    return 'iproute2 `ip` not found'
  }
  return undefined
}

/**
 * Creates namespaces `<prefix><pid>a` / `…b`, a veth pair between them (192.0.2.1/24 ↔ 192.0.2.2/24, TEST-NET-1)
 * and an inner address on each loopback (10.1.0.1, 10.2.0.1) for the tunnel's traffic selectors: libipsec
 * installs its route with the local selector address as source, which fails unless that address is local.
 */
export async function createNetnsPair(prefix: string): Promise<NetnsPair> {
  await removeStaleNamespaces(prefix)
  const tag = `${prefix}${process.pid}`
  const a = { netns: `${tag}a`, underlay: '192.0.2.1', inner: '10.1.0.1' }
  const b = { netns: `${tag}b`, underlay: '192.0.2.2', inner: '10.2.0.1' }
  const destroy = async (): Promise<void> => {
    for (const ns of [a.netns, b.netns]) await ip('netns', 'del', ns).catch(() => undefined)
  }
  try {
    await ip('netns', 'add', a.netns)
    await ip('netns', 'add', b.netns)
    await ip('link', 'add', `${tag}x`, 'netns', a.netns, 'type', 'veth', 'peer', 'name', `${tag}y`, 'netns', b.netns)
    for (const [side, dev] of [[a, `${tag}x`], [b, `${tag}y`]] as const) {
      await ip('-n', side.netns, 'link', 'set', 'lo', 'up')
      await ip('-n', side.netns, 'addr', 'add', `${side.underlay}/24`, 'dev', dev)
      await ip('-n', side.netns, 'link', 'set', dev, 'up')
      await ip('-n', side.netns, 'addr', 'add', `${side.inner}/32`, 'dev', 'lo')
    }
  } catch (err) {
    await destroy()
    throw err
  }
  return { a, b, destroy }
}

/** One ping from `source` to `target` inside `netns`; true when a reply came back. */
export async function pingOnce(netns: string, source: string, target: string): Promise<boolean> {
  try {
    await run('ip', ['netns', 'exec', netns, 'ping', '-n', '-q', '-c', '1', '-W', '1', '-I', source, target])
    return true
  } catch {
    return false
  }
}

export interface Pinger {
  /** performance.now() when the first echo reply was printed. */
  readonly firstReplyAt: Promise<number>
  /** Resolves once the pinger printed its banner, i.e. it is sending. */
  readonly sending: Promise<void>
  stop(): void
}

/**
 * A ping running every `intervalMs` from before a tunnel exists: with no route, iputils ping keeps counting
 * sends that fail, and the first reply line marks the moment traffic first crossed. Ends by itself after
 * `deadlineSec` so a crashed test leaves nothing behind.
 */
export function startPinger(netns: string, source: string, target: string, intervalMs: number, deadlineSec = 30): Pinger {
  // stdbuf -oL: ping's stdout is a pipe here, which stdio would block-buffer, hiding the reply lines.
  const child = spawn('ip', ['netns', 'exec', netns, 'stdbuf', '-oL', 'ping', '-n', '-i', String(intervalMs / 1000), '-w', String(deadlineSec), '-I', source, target], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  let resolveReply!: (at: number) => void
  let resolveSending!: () => void
  let rejectReply!: (err: Error) => void
  let rejectSending!: (err: Error) => void
  const firstReplyAt = new Promise<number>((resolve, reject) => {
    resolveReply = resolve
    rejectReply = reject
  })
  const sending = new Promise<void>((resolve, reject) => {
    resolveSending = resolve
    rejectSending = reject
  })
  createInterface({ input: child.stdout }).on('line', line => {
    if (line.startsWith('PING ')) resolveSending()
    if (/bytes from/.test(line)) resolveReply(performance.now())
  })
  // A pinger that ends (deadline, bad arguments) settles whatever is still awaited instead of hanging the test.
  child.once('exit', code => {
    const err = new Error(`ping in ${netns} exited (code ${code}) before a reply`)
    rejectSending(err)
    rejectReply(err)
  })
  return { firstReplyAt, sending, stop: () => void child.kill('SIGINT') }
}

/**
 * Deletes namespaces a killed test run left behind (`<prefix><pid>a|b` whose pid is gone): a test process
 * that times out never runs its teardown. Deleting the name is enough; the kernel frees the namespace once
 * nothing runs in it.
 */
async function removeStaleNamespaces(prefix: string): Promise<void> {
  const names = (await ip('netns', 'list')).split('\n').map(line => line.split(' ')[0] ?? '')
  for (const name of names) {
    const m = new RegExp(`^${prefix}(\\d+)[ab]$`).exec(name)
    if (m && !isAlive(Number(m[1]))) await ip('netns', 'del', name).catch(() => undefined)
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0) // signal 0 only checks that the process exists
    return true
  } catch {
    return false
  }
}

/** Runs a command inside a namespace and returns its stdout. */
export async function inNetns(netns: string, command: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', netns, command, ...args])
  return stdout
}
