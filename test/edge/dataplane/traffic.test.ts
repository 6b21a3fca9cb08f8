// Real traffic through the real kernel: a store LAN host (POS at .10, VoIP and web at .20) and a
// guest host send UDP toward the internet; three provider namespaces count what reaches them. Each
// class must leave by the uplink its decision gives it, move when the decision changes, keep its
// existing flows where they are while the old path is still in `keep` (sticky), move them when it
// is not, and go nowhere when it has no path (fail closed).
import t, { type Test } from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { desired, initialDecisions } from '../../../edge/dataplane/desired.js'
import { uplinkFacts } from '../../../edge/dataplane/facts.js'
import type { Decision } from '../../../edge/dataplane/model.js'
import { ownershipOf } from '../../../edge/dataplane/ports.js'
import { openKernelSession } from '../../../edge/dataplane/session.js'
import { enterTestNetns, run, sh, tsxNodeArgs } from './helpers/netns.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'
import { buildSite, counts, INTERNET, type Provider } from './helpers/topology.js'

await enterTestNetns(import.meta.url, 'traffic')

const POS = 7001
const POS_NEW = 7011
const VOIP = 5060
const VOIP_NEW = 10002
const GUEST = 7003
const WEB = 7004
const policy = policyFromYaml(THREE_UPLINKS_YAML)
const site = buildSite(t, [POS, POS_NEW, VOIP, VOIP_NEW, GUEST, WEB])

const session = openKernelSession(ownershipOf(policy.dataplane), () => undefined)
t.teardown(() => session.close())
const facts = uplinkFacts(policy, await session.kernel.facts())
const steer = async (t: Test, decisions: Decision[]): Promise<number> => {
  const r = await session.reconciler.set(desired(policy, decisions, facts))
  t.same(r.failed.map(f => f.error.message), [], 'applied without failures')
  return r.ops.length
}

class Sender {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly lines: AsyncIterator<string>
  constructor(ns: string) {
    const script = fileURLToPath(new URL('./helpers/udp-sender.ts', import.meta.url))
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...tsxNodeArgs(), script])
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]()
    t.teardown(() => void this.child.stdin.end())
  }
  async send(src: string, sport: number, dport: number, count: number): Promise<void> {
    this.child.stdin.write(`send ${src} ${sport} ${INTERNET} ${dport} ${count}\n`)
    const next = await this.lines.next()
    if (next.value !== 'sent') throw new Error(`sender: ${String(next.value)}`)
  }
}
const lan = new Sender(site.lan)
const guest = new Sender(site.guest)

type Expect = Partial<Record<Provider, Partial<Record<number, number>>>>
/** Waits until the providers' counters reach `expect` (packets cross veths asynchronously), then compares. */
async function expectCounts(t: Test, expect: Expect, what: string): Promise<void> {
  const matches = (): boolean =>
    Object.entries(expect).every(([p, ports]) => Object.entries(ports ?? {}).every(([port, n]) => counts(site)[p as Provider][Number(port)] === n))
  for (let i = 0; i < 100 && !matches(); i++) await new Promise(r => setTimeout(r, 20))
  const seen = counts(site)
  for (const [p, ports] of Object.entries(expect))
    for (const [port, n] of Object.entries(ports ?? {})) t.equal(seen[p as Provider][Number(port)], n, `${what}: ${p} saw ${n} to port ${port}`)
}

const init = initialDecisions(policy)
const with_ = (changes: Record<string, Partial<Decision>>): Decision[] => init.map(d => ({ ...d, ...(changes[d.class] ?? {}) }))
const on = (...paths: string[]): Decision['active'] => paths.map(path => ({ path, weight: 1 }))

t.test('each class leaves by its uplink', async t => {
  await steer(t, init)
  await lan.send('10.42.0.10', 40001, POS, 5)
  await lan.send('10.42.0.20', 41000, VOIP, 5)
  await guest.send('10.142.0.10', 42000, GUEST, 5)
  for (let i = 0; i < 8; i++) await lan.send('10.42.0.20', 43000 + i, WEB, 1)
  await expectCounts(
    t,
    { mpls: { [POS]: 5, [VOIP]: 0, [GUEST]: 0, [WEB]: 0 }, lte: { [POS]: 0, [VOIP]: 5, [GUEST]: 0 }, bb: { [POS]: 0, [VOIP]: 0, [GUEST]: 5 } },
    'initial',
  )
  const c = counts(site)
  t.equal((c.bb[WEB] ?? 0) + (c.lte[WEB] ?? 0), 8, 'weighted web flows all went to bb or lte')
})

t.test('a decision change moves new flows; sticky flows stay; evicted flows move', async t => {
  const ops = await steer(
    t,
    with_({
      pos: { active: on('bb'), keep: ['bb'], reason: 'mpls down' },
      voip: { active: on('bb'), keep: ['lte', 'bb'], reason: 'lte brownout' },
    }),
  )
  t.ok(ops <= 16, `two classes re-steered in ${ops} rule operations`)
  await lan.send('10.42.0.10', 40002, POS_NEW, 5)
  await lan.send('10.42.0.10', 40001, POS, 5)
  await lan.send('10.42.0.20', 41000, VOIP, 5)
  await lan.send('10.42.0.20', 41001, VOIP_NEW, 5)
  await expectCounts(
    t,
    {
      bb: { [POS_NEW]: 5, [POS]: 5, [VOIP_NEW]: 5, [VOIP]: 0 },
      mpls: { [POS]: 5, [POS_NEW]: 0 },
      lte: { [VOIP]: 10, [VOIP_NEW]: 0 },
    },
    'after re-steer',
  )
  // The POS flow left un-NATed by MPLS; evicted, it came back as a new flow and is NATed on bb.
  t.match(sh('conntrack', '-L', '-p', 'udp', '--sport', '40001'), /dst=192\.0\.2\.2 sport=7001 dport=40001/, 'evicted POS flow re-NATed on bb')

  await steer(t, with_({ pos: { active: on('bb'), keep: ['bb'] }, voip: { active: on('bb'), keep: ['bb'], reason: 'lte down' } }))
  await lan.send('10.42.0.20', 41000, VOIP, 5)
  await expectCounts(t, { bb: { [VOIP]: 5 }, lte: { [VOIP]: 10 } }, 'lte evicted: the long-running VoIP flow moved to bb, re-NATed (its conntrack entry was evicted)')
})

t.test('a class with no path is dropped, never leaked through the main table', async t => {
  // The main table has a default route too: a leak would show up at the mpls provider.
  sh('ip', 'route', 'replace', 'default', 'via', '203.0.113.1')
  t.teardown(() => void run('ip', ['route', 'del', 'default']))
  await steer(t, with_({ voip: { active: [], keep: [], reason: 'no path meets the SLA' } }))
  const before = counts(site)
  await lan.send('10.42.0.20', 41000, VOIP, 5)
  await lan.send('10.42.0.20', 41002, VOIP_NEW, 5)
  await new Promise(res => setTimeout(res, 100))
  const after = counts(site)
  t.same(after, before, 'no provider saw a VoIP packet')
  await lan.send('10.42.0.10', 40003, POS_NEW, 2)
  await expectCounts(t, { mpls: { [POS_NEW]: 2 } }, 'pos (back on its first path) still flows')
})

t.test('stop tears everything down', async t => {
  const r = await session.reconciler.set(null)
  t.same(r.failed, [])
  t.same(r.reached, { rules: [], routes: [], greLinks: [], vxlanLinks: [], nftDigest: null })
})
