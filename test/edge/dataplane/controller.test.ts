// The controller on the fake kernel: start, re-steer (rules only), facts changes (a link going down
// and coming back) re-applied on their own, stop --flush.
import t from 'tap'
import { DataplaneController } from '../../../edge/dataplane/controller.js'
import { initialDecisions } from '../../../edge/dataplane/desired.js'
import { ownershipOf } from '../../../edge/dataplane/ports.js'
import { Reconciler } from '../../../edge/dataplane/reconciler.js'
import { FakeKernel } from './helpers/fake-kernel.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'

const policy = policyFromYaml(THREE_UPLINKS_YAML)
const own = ownershipOf(policy.dataplane)

async function until(cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise(r => setTimeout(r, 5))
  return cond()
}

t.test('start, steer, follow link changes, stop', async t => {
  const k = new FakeKernel(own)
  for (const l of ['up-bb', 'up-lte', 'up-mpls', 'lan0', 'lan1']) k.links.set(l, true)
  k.addresses = [
    { link: 'up-bb', family: 4, address: '192.0.2.2/24' },
    { link: 'up-lte', family: 4, address: '198.51.100.2/24' },
    { link: 'up-mpls', family: 4, address: '203.0.113.2/24' },
  ]
  const logs: string[] = []
  const rec = new Reconciler({ kernel: k, nft: k, own, log: e => void logs.push(e), now: () => performance.now(), timers: { setTimeout, clearTimeout }, restoreIntervalMs: 1 })
  const learners: string[] = []
  const c = new DataplaneController(k, rec, e => void logs.push(e), p => ({
    start: async () => void learners.push(`start ${p.serial}`),
    stop: () => void learners.push('stop'),
  }))
  t.teardown(() => c.stop(false))

  const first = await c.start(policy, initialDecisions(policy))
  t.same(first.failed, [])
  t.match(k.render(), /table 1002 0\.0\.0\.0\/0 via 198\.51\.100\.1 dev up-lte/)

  const moved = initialDecisions(policy).map(d => (d.class === 'voip' ? { ...d, active: [{ path: 'bb', weight: 1 }], keep: ['bb'] } : d))
  const steer = await c.steer(moved)
  t.ok(steer.ops.length > 0 && steer.ops.every(o => o.kind.endsWith('-rule')), `re-steer is rules only (${steer.ops.length} ops)`)

  k.setLink('up-lte', false)
  t.ok(await until(() => logs.includes('dataplane.facts-changed') && !k.render().includes('dev up-lte')), 'lte down: its routes are gone, not retried')
  k.setLink('up-lte', true)
  t.ok(await until(() => k.render().includes('via 198.51.100.1 dev up-lte')), 'lte back: its routes return')

  t.same(learners, [], 'no domain selectors: no DNS learner')
  const withDomains = policyFromYaml(THREE_UPLINKS_YAML.replace('serial: 1', 'serial: 2').replace('match: [{ segments: [guest] }]', 'match: [{ segments: [guest] }, { domains: [guest.example.com] }]'))
  await c.setPolicy(withDomains, initialDecisions(withDomains))
  t.same(learners, ['start 2'], 'a policy with domains starts one')

  const stop = await c.stop(true)
  t.same(learners, ['start 2', 'stop'], 'and stop stops it')
  t.same(stop?.failed, [])
  t.equal(k.render(), '\n', 'flushed')
})
