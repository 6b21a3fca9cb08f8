// Two throwaway network namespaces joined by a veth pair, for tests that run real charon daemons.
// Names carry a prefix and the test's pid so parallel runs and leftovers from crashed runs never collide.
import { execFile } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
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
