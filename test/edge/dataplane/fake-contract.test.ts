// The contract suite against the fake kernel, plus golden renderings of each policy state reached
// from every other state in random order.
import t from 'tap'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { desired } from '../../../edge/dataplane/desired.js'
import { ownershipOf } from '../../../edge/dataplane/ports.js'
import { Reconciler } from '../../../edge/dataplane/reconciler.js'
import type { Facts, FibRule } from '../../../edge/dataplane/model.js'
import { FakeKernel } from './helpers/fake-kernel.js'
import { dataplaneContract, decisionStates, shuffle } from './helpers/contract.js'
import { rng } from '../../helpers/random.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'

const policy = policyFromYaml(THREE_UPLINKS_YAML)
const own = ownershipOf(policy.dataplane)
const facts: Facts = {}

function fakeWithLinks(): FakeKernel {
  const k = new FakeKernel(own)
  for (const l of ['up-bb', 'up-lte', 'up-mpls', 'lan0', 'lan1']) k.links.set(l, true)
  return k
}

dataplaneContract(t, policy, async () => {
  const k = fakeWithLinks()
  const foreignRule: FibRule = { family: 4, priority: 9000, src: '10.99.0.0/16', table: 100, comment: '' }
  return {
    kernel: k,
    nft: k,
    own,
    facts,
    addForeign: async () => {
      k.rules.push(foreignRule)
      k.routes.push({ family: 4, table: 1001, dst: '10.98.0.0/16', type: 'unicast', device: 'up-bb', metric: 0, comment: '', protocol: 4 })
      k.routes.push({ family: 4, table: 254, dst: '10.97.0.0/16', type: 'unicast', device: 'up-bb', metric: 0, comment: '', protocol: 4 })
      k.nftTables.set('other', 'table inet other {}')
    },
    foreign: async () => k.render().split('\n').filter(l => l.includes('10.99.') || l.includes('proto 4') || l.includes('inet other')).join('\n'),
    deleteRuleBehindOurBack: async r => k.externalDeleteRule(r),
    close: async () => undefined,
  }
})

t.test('golden: each state renders the same text whatever state it was reached from', async t => {
  const states = decisionStates(policy)
  const seed = Number(process.env.DP_SEED ?? Date.now() % 100000)
  t.comment(`seed ${seed}`)
  const golden = (name: string): URL => new URL(`./golden/fake-${name}.txt`, import.meta.url)
  const fresh = new Map<string, string>()
  for (const [name, decisions] of Object.entries(states)) {
    const k = fakeWithLinks()
    const rec = new Reconciler({ kernel: k, nft: k, own, log: () => undefined, now: () => 0, timers: { setTimeout, clearTimeout } })
    await rec.set(desired(policy, decisions, facts))
    fresh.set(name, k.render())
    const file = golden(name)
    // Missing goldens are written (and reviewed in the commit) except under CI, where they must exist.
    if (process.env.UPDATE_GOLDEN === '1' || (!existsSync(file) && process.env.CI !== 'true')) writeFileSync(file, k.render())
    t.equal(k.render(), readFileSync(file, 'utf8'), `fresh ${name} matches golden`)
  }
  const k = fakeWithLinks()
  const rec = new Reconciler({ kernel: k, nft: k, own, log: () => undefined, now: () => 0, timers: { setTimeout, clearTimeout } })
  const random = rng(seed)
  let prev = '(empty)'
  for (const name of shuffle([...Object.keys(states), ...Object.keys(states), ...Object.keys(states)], random)) {
    await rec.set(desired(policy, states[name]!, facts))
    t.equal(k.render(), fresh.get(name), `${prev} → ${name}`)
    prev = name
  }
  await rec.set(null)
  t.equal(k.render(), '\n', 'teardown leaves an empty kernel')
})

t.test('routes through a down link fail typed and are restored when it comes back', async t => {
  const k = fakeWithLinks()
  k.links.set('up-lte', false)
  const logs: string[] = []
  const rec = new Reconciler({ kernel: k, nft: k, own, log: e => void logs.push(e), now: () => performance.now(), timers: { setTimeout, clearTimeout }, restoreIntervalMs: 1 })
  t.teardown(() => rec.stop())
  const w = desired(policy, decisionStates(policy).initial!, facts)
  const r = await rec.set(w)
  t.same(
    r.failed.map(f => [f.error.name, (f.error as { errno?: string }).errno]),
    [['KernelError', 'ENETDOWN'], ['KernelError', 'ENETDOWN']],
    'connected and gateway route of lte',
  )
  rec.watch()
  k.setLink('up-lte', true)
  for (let i = 0; i < 100 && !k.render().includes('via 198.51.100.1'); i++) await new Promise(res => setTimeout(res, 5))
  t.match(k.render(), /table 1002 0\.0\.0\.0\/0 via 198\.51\.100\.1 dev up-lte/)
  t.ok(logs.includes('dataplane.restored'))
})
