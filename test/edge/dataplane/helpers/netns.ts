// Real-kernel tests run inside a throwaway network namespace. A netlink socket binds to the netns
// of the thread that opens it and Node cannot setns(2), so the test file re-executes itself under
// `ip netns exec` (its TAP output goes straight through) and the parent removes the namespace when
// the child ends, however it ends. Without root or netns support the file skips with one line,
// except under CI=true, where that is a failure.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'

const ENV = 'SDWAN_DP_TEST_NETNS'

export const run = (cmd: string, args: readonly string[], input?: string): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) })

/** Runs a command and throws with its stderr when it fails (test setup must not half-succeed silently). */
export function sh(cmd: string, ...args: string[]): string {
  const r = run(cmd, args)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`)
  return r.stdout
}

/** Runs a command inside a named netns. */
export const inNs = (ns: string, cmd: string, ...args: string[]): string => sh('ip', 'netns', 'exec', ns, cmd, ...args)

/** Why real-kernel tests cannot run here, or undefined when they can. */
export function missingCapability(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return 'needs root for network namespaces'
  for (const [tool, args] of [['ip', ['-V']], ['nft', ['--version']]] as const)
    if (run(tool, args).status !== 0) return `${tool} is not installed`
  return undefined
}

/** The namespace this process runs in, when it is a test child. */
export const testNetns = (): string | undefined => process.env[ENV]

/**
 * In the parent: creates the namespace, runs this test file inside it, removes the namespace and
 * exits with the child's status (never returns). In the child: returns the namespace's name.
 */
export async function enterTestNetns(importMetaUrl: string, label: string): Promise<string> {
  const inside = testNetns()
  if (inside) return inside
  const missing = missingCapability()
  if (missing) {
    if (process.env.CI === 'true') t.fail(`real-kernel test cannot run: ${missing}`)
    else t.plan(0, `skip: ${missing}`)
    return new Promise(() => undefined)
  }
  const ns = `sdwt-${label}-${process.pid}`
  sh('ip', 'netns', 'add', ns)
  let code = 1
  try {
    sh('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up')
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, fileURLToPath(importMetaUrl), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, [ENV]: ns },
    })
    code = await new Promise<number>(resolve => child.on('close', (c, signal) => resolve(c ?? (signal ? 1 : 0))))
  } finally {
    run('ip', ['netns', 'del', ns])
  }
  process.exit(code)
}

/** Creates an extra namespace for the test (LAN hosts, providers) and removes it at teardown. */
export function extraNetns(test: Test, name: string): string {
  run('ip', ['netns', 'del', name])
  sh('ip', 'netns', 'add', name)
  test.teardown(() => void run('ip', ['netns', 'del', name]))
  inNs(name, 'ip', 'link', 'set', 'lo', 'up')
  return name
}

/** `ip -batch` input run in the current namespace. */
export function ipBatch(lines: readonly string[]): void {
  const r = run('ip', ['-batch', '-'], lines.join('\n') + '\n')
  if (r.status !== 0) throw new Error(`ip -batch failed: ${r.stderr}`)
}

/**
 * Node arguments for helper children written in TypeScript: tsx only. (This process's own execArgv
 * carries tap's loaders and process-info hooks, which cost each child about a second to start.)
 */
export const tsxNodeArgs = (): string[] => ['--import', import.meta.resolve('tsx')]

/**
 * The interfaces THREE_UPLINKS_YAML names, as veth pairs whose far ends stay in this netns: three
 * uplinks with their IPv4 addresses and two LAN interfaces, all up.
 */
export const THREE_UPLINK_LINKS: readonly string[] = [
  ...['bb', 'lte', 'mpls'].map(p => `link add up-${p} type veth peer name far-${p}`),
  'link add lan0 type veth peer name far-lan0',
  'link add lan1 type veth peer name far-lan1',
  ...['up-bb', 'up-lte', 'up-mpls', 'lan0', 'lan1', 'far-bb', 'far-lte', 'far-mpls', 'far-lan0', 'far-lan1'].map(l => `link set ${l} up`),
  'addr add 192.0.2.2/24 dev up-bb',
  'addr add 198.51.100.2/24 dev up-lte',
  'addr add 203.0.113.2/24 dev up-mpls',
]

/** Broadband's IPv6 address, for tests of the dual-stack rules. */
export const BB_IPV6 = 'addr add 2001:db8:b::2/64 dev up-bb nodad'
