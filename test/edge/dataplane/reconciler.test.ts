// Reconciler behaviour beyond the port contract, on the fake kernel: which flows it evicts from
// conntrack when paths change, and that a re-steer while watching needs no dump.
import t from 'tap'
import { desired, initialDecisions } from '../../../edge/dataplane/desired.js'
import type { Decision } from '../../../edge/dataplane/model.js'
import { ownershipOf, type ConntrackPort } from '../../../edge/dataplane/ports.js'
import { Reconciler } from '../../../edge/dataplane/reconciler.js'
import { FakeKernel } from './helpers/fake-kernel.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'

const policy = policyFromYaml(THREE_UPLINKS_YAML)
const own = ownershipOf(policy.dataplane)
const init = initialDecisions(policy)
const change = (cls: string, d: Partial<Decision>): Decision[] => init.map(x => (x.class === cls ? { ...x, ...d } : x))

function setup(): { k: FakeKernel; rec: Reconciler; evicted: string[] } {
  const k = new FakeKernel(own)
  for (const l of ['up-bb', 'up-lte', 'up-mpls', 'lan0', 'lan1']) k.links.set(l, true)
  const evicted: string[] = []
  const conntrack: ConntrackPort = { evict: async (mark, mask) => void evicted.push(`0x${mark.toString(16)}/0x${mask.toString(16)}`) }
  const rec = new Reconciler({ kernel: k, nft: k, conntrack, own, log: () => undefined, now: () => 0, timers: { setTimeout, clearTimeout } })
  return { k, rec, evicted }
}

t.test('conntrack eviction follows the (class, path) pairs that lost their route', async t => {
  const cases: Array<{ name: string; to: Decision[]; evicted: string[] }> = [
    { name: 'pos leaves mpls, not kept: its mpls flows go', to: change('pos', { active: [{ path: 'bb', weight: 1 }], keep: ['bb'] }), evicted: ['0x310000/0xff0000'] },
    { name: 'pos leaves mpls but keeps it: nothing goes', to: change('pos', { active: [{ path: 'bb', weight: 1 }], keep: ['mpls', 'bb'] }), evicted: [] },
    { name: 'guest (never sticky) moves bb → lte: its bb flows go', to: change('guest', { active: [{ path: 'lte', weight: 1 }], keep: [] }), evicted: ['0x130000/0xff0000'] },
    { name: 'voip dropped: its lte flows go (they would be blackholed anyway)', to: change('voip', { active: [], keep: [] }), evicted: ['0x220000/0xff0000'] },
    { name: 'same state again: nothing', to: init, evicted: [] },
  ]
  for (const c of cases) {
    const { rec, evicted } = setup()
    await rec.set(desired(policy, init, {}))
    await rec.set(desired(policy, c.to, {}))
    t.same(evicted, c.evicted, c.name)
  }
  const { rec, evicted } = setup()
  await rec.set(desired(policy, init, {}))
  await rec.set(null)
  t.same(evicted, [], 'teardown evicts nothing')
})

t.test('while watching, a re-steer is applied from the last reached state, without a dump', async t => {
  const { k, rec } = setup()
  rec.watch()
  t.teardown(() => rec.stop())
  let dumps = 0
  const dump = k.dump.bind(k)
  k.dump = async () => (dumps++, dump())
  await rec.set(desired(policy, init, {}))
  t.equal(dumps, 1, 'the first converge dumps')
  const r = await rec.set(desired(policy, change('pos', { active: [{ path: 'bb', weight: 1 }], keep: ['bb'] }), {}))
  t.equal(dumps, 1, 'the re-steer does not')
  t.ok(r.ops.every(o => o.kind.endsWith('-rule')))
  await new Promise(res => setTimeout(res, 20))
  await rec.set(desired(policy, init, {}))
  t.equal(dumps, 1, 'nor does the next one: the notifications of our own changes are recognised')
  rec.stop()
  await rec.set(desired(policy, init, {}))
  t.equal(dumps, 2, 'not watching: every converge dumps')
})

t.test('a change by someone else during a converge is not papered over', async t => {
  const { k, rec } = setup()
  rec.watch()
  t.teardown(() => rec.stop())
  await rec.set(desired(policy, init, {}))
  const victim = k.rules.find(r => r.fwmark !== undefined && r.priority === 10002)!
  k.duringApply = () => {
    k.duringApply = undefined
    k.externalDeleteRule(victim)
  }
  await rec.set(desired(policy, change('pos', { active: [{ path: 'bb', weight: 1 }], keep: ['bb'] }), {}))
  for (let i = 0; i < 100 && !k.rules.some(r => r === victim || (r.priority === victim.priority && r.fwmark === victim.fwmark && r.family === victim.family)); i++)
    await new Promise(res => setTimeout(res, 5))
  t.ok(k.rules.some(r => r.priority === victim.priority && r.fwmark === victim.fwmark && r.family === victim.family), 'the rule deleted mid-converge is restored')
})
