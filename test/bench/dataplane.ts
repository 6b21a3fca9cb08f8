// npm run bench dataplane [-- --rounds N]: how fast the dataplane programs the kernel.
//   full apply  a state of 1,000 fib rules + 1,100 routes + our nft table, into a fresh network
//               namespace, through the reconciler (rtnetlink + one `nft -f`), from the first dump to
//               the last ACK; median of N rounds
//   reference   the same rules and routes through `ip -batch` plus the same nft file through
//               `nft -f`, into another fresh namespace, in the same run (process start included, as
//               for our nft)
//   re-steer    one class moved (its class rule, v4 and v6: add then delete) on top of the full
//               state, with the reconciler watching (no dump); median of 40 per round
// Each round runs in its own namespaces; our side runs in a child started inside its namespace,
// since a netlink socket belongs to the netns of the thread that opens it.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parsePolicy } from '../../edge/config/load.js'
import { desired, initialDecisions } from '../../edge/dataplane/desired.js'
import type { Decision, DesiredState, FibRule, Route } from '../../edge/dataplane/model.js'
import { replaceScript } from '../../edge/dataplane/nft/port.js'
import { openKernelSession, DEFAULT_OWNERSHIP } from '../../edge/dataplane/session.js'
import { THREE_UPLINKS_YAML } from '../edge/dataplane/helpers/policy.js'

const RULES = 1000
const ROUTES = 1100
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const sh = (cmd: string, args: string[], input?: string): void => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
}

/** The benchmark state: the example policy's real rules and nft table, padded with synthetic rules and routes. */
function states(): { full: DesiredState; moved: DesiredState } {
  const r = parsePolicy('bench.yaml', THREE_UPLINKS_YAML)
  if (!r.ok) throw new Error('bench policy invalid')
  const policy = r.policy
  const init = initialDecisions(policy)
  const moved: Decision[] = init.map(d => (d.class === 'voip' ? { ...d, active: [{ path: 'bb', weight: 1 }] } : d))
  const base = desired(policy, init, {})
  const policyRules = base.rules.filter(x => x.fwmark !== undefined)
  const pad: FibRule[] = Array.from({ length: RULES - policyRules.length }, (_, i) => ({
    family: 4,
    priority: 10100 + i,
    fwmark: (((i % 14) + 1) << 16) >>> 0,
    fwmask: 0x00ff0000,
    table: 1100 + (i % 100),
    comment: 'bench',
  }))
  const routes: Route[] = []
  for (let t = 0; t < 100; t++) {
    for (let j = 0; j < 10; j++)
      routes.push({ family: 4, table: 1100 + t, dst: `10.${100 + t}.${j}.0/24`, type: 'unicast', device: 'up0', metric: 100, comment: 'bench' })
    routes.push({ family: 4, table: 1100 + t, dst: '0.0.0.0/0', type: 'blackhole', metric: 0xffffffff, comment: 'bench' })
  }
  if (routes.length !== ROUTES) throw new Error('route count')
  const build = (rules: FibRule[]): DesiredState => ({ ...base, rules: [...rules, ...pad], routes, greLinks: [] })
  return { full: build(policyRules), moved: build(desired(policy, moved, {}).rules.filter(x => x.fwmark !== undefined)) }
}

const hex = (n: number): string => '0x' + n.toString(16)
/** `ip -batch` input for one family (batch lines take no -4/-6, so each family is its own batch). */
function ipBatchOf(s: DesiredState, family: 4 | 6): string {
  const lines = s.rules.filter(r => r.family === family).map(r => `rule add pref ${r.priority} fwmark ${hex(r.fwmark!)}/${hex(r.fwmask!)} lookup ${r.table} proto 201`)
  for (const r of s.routes.filter(x => x.family === family))
    lines.push(r.type === 'blackhole' ? `route add blackhole ${r.dst} table ${r.table} metric ${r.metric} proto 201` : `route add ${r.dst} dev ${r.device} table ${r.table} metric ${r.metric} proto 201`)
  return lines.join('\n') + '\n'
}

const LINK_SETUP = ['link add up0 type veth peer name far0', 'link set up0 up', 'link set far0 up', 'addr add 10.0.0.1/16 dev up0']

/** Our side, inside its fresh namespace: prints one JSON line of timings. */
async function child(stateFile: string): Promise<void> {
  const parsed = JSON.parse(readFileSync(stateFile, 'utf8')) as { full: DesiredState; moved: DesiredState }
  const full = parsed.full
  // As desired() gives them: the same route array and nft text for the same policy and facts, and
  // (here) the same objects for the rules a re-steer leaves alone.
  const padKeys = new Set(full.rules.filter(r => r.comment === 'bench').map(r => r.priority))
  const moved: DesiredState = { ...parsed.moved, routes: full.routes, rules: [...parsed.moved.rules.filter(r => !padKeys.has(r.priority) || r.comment !== 'bench'), ...full.rules.filter(r => r.comment === 'bench')] }
  const freshCopy = (s: DesiredState): DesiredState => ({ ...s, rules: s.rules.map(r => ({ ...r })) })
  sh('ip', ['-batch', '-'], LINK_SETUP.join('\n') + '\n')
  const session = openKernelSession(DEFAULT_OWNERSHIP, () => undefined)
  const t0 = performance.now()
  const report = await session.reconciler.set(full)
  const applyMs = performance.now() - t0
  if (report.failed.length) throw new Error(`apply failed: ${report.failed[0]!.error.message}`)
  session.reconciler.watch()
  await session.reconciler.set(full) // the first converge after watch() dumps afresh
  const resteer: number[] = []
  const resteerFresh: number[] = []
  let resteerOps = 0
  for (let i = 0; i < 80; i++) {
    // Odd rounds: every rule a new object (nothing memoised), the worst case for diff().
    const target = i % 2 === 0 ? moved : full
    const fresh = i % 4 >= 2
    const s0 = performance.now()
    const r = await session.reconciler.set(fresh ? freshCopy(target) : target)
    ;(fresh ? resteerFresh : resteer).push(performance.now() - s0)
    resteerOps = r.ops.length
    if (r.failed.length) throw new Error('re-steer failed')
  }
  const d0 = performance.now()
  await session.reconciler.actual()
  const dumpMs = performance.now() - d0
  session.close()
  process.stdout.write(JSON.stringify({ applyMs, ops: report.ops.length, resteerMs: median(resteer), resteerFreshMs: median(resteerFresh), resteerOps, dumpMs }) + '\n')
}

async function parent(rounds: number): Promise<void> {
  const { full, moved } = states()
  const dir = mkdtempSync(join(tmpdir(), 'sdwan-bench-'))
  const stateFile = join(dir, 'states.json')
  const batch4 = join(dir, 'ipv4.batch')
  const batch6 = join(dir, 'ipv6.batch')
  const nftFile = join(dir, 'table.nft')
  writeFileSync(stateFile, JSON.stringify({ full, moved }))
  writeFileSync(batch4, ipBatchOf(full, 4))
  writeFileSync(batch6, ipBatchOf(full, 6))
  writeFileSync(nftFile, replaceScript(full.nftTable, full.nft))
  const self = fileURLToPath(import.meta.url)
  const ours: number[] = []
  const reference: number[] = []
  const resteer: number[] = []
  const resteerFresh: number[] = []
  let last: { ops: number; resteerOps: number; dumpMs: number } | undefined
  try {
    for (let round = 0; round < rounds; round++) {
      const nsOurs = `sdwb-ours-${process.pid}-${round}`
      const nsRef = `sdwb-ref-${process.pid}-${round}`
      try {
        sh('ip', ['netns', 'add', nsOurs])
        sh('ip', ['netns', 'add', nsRef])
        const r = spawnSync('ip', ['netns', 'exec', nsOurs, process.execPath, '--import', import.meta.resolve('tsx'), self, '--child', stateFile], { encoding: 'utf8' })
        if (r.status !== 0) throw new Error(`our side failed: ${r.stderr}`)
        const m = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { applyMs: number; resteerMs: number; resteerFreshMs: number; ops: number; resteerOps: number; dumpMs: number }
        ours.push(m.applyMs)
        resteer.push(m.resteerMs)
        resteerFresh.push(m.resteerFreshMs)
        last = m

        sh('ip', ['-n', nsRef, '-batch', '-'], LINK_SETUP.join('\n') + '\n')
        const t0 = performance.now()
        sh('ip', ['-n', nsRef, '-4', '-batch', batch4])
        sh('ip', ['-n', nsRef, '-6', '-batch', batch6])
        sh('ip', ['netns', 'exec', nsRef, 'nft', '-f', nftFile])
        reference.push(performance.now() - t0)
      } finally {
        spawnSync('ip', ['netns', 'del', nsOurs])
        spawnSync('ip', ['netns', 'del', nsRef])
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const oursMs = median(ours)
  const referenceMs = median(reference)
  console.log(`state: ${full.rules.length} rules, ${full.routes.length} routes, nft table of ${full.nft.split('\n').length} lines (${last?.ops} ops)`)
  console.log(`full apply, ours:      median ${oursMs.toFixed(2)} ms  [${ours.map(x => x.toFixed(1)).join(', ')}]`)
  console.log(`full apply, ip+nft:    median ${referenceMs.toFixed(2)} ms  [${reference.map(x => x.toFixed(1)).join(', ')}]`)
  console.log(`re-steer one class:    median ${median(resteer).toFixed(3)} ms (${last?.resteerOps} rule ops, no dump)`)
  console.log(`  … with all 1,000 rules as new objects (nothing memoised): median ${median(resteerFresh).toFixed(3)} ms`)
  console.log(`a full dump of ours (rules, routes, nft digest): ${last?.dumpMs.toFixed(2)} ms`)
  console.log(JSON.stringify({ bench: 'dataplane', ours_ms: +oursMs.toFixed(2), reference_ms: +referenceMs.toFixed(2), ratio: +(oursMs / referenceMs).toFixed(3), resteer_ms: +median(resteer).toFixed(3) }))
}

const { values, positionals } = parseArgs({ options: { child: { type: 'boolean' }, rounds: { type: 'string' } }, allowPositionals: true })
if (values.child) await child(positionals[0] ?? '')
else await parent(Number(values.rounds ?? 7))
