// The KernelPort/NftPort contract, run against the fake (fake-contract.test.ts) and the real kernel
// in a throwaway namespace (kernel-contract.test.ts): same policy states, same expectations.
import type { Test } from 'tap'
import { desired, initialDecisions } from '../../../../edge/dataplane/desired.js'
import type { Decision, DesiredState, Facts, FibRule, Route, VxlanLink } from '../../../../edge/dataplane/model.js'
import { routeBody, routeKey, ruleKey, type ActualState } from '../../../../edge/dataplane/ops.js'
import type { KernelPort, NftPort, Ownership } from '../../../../edge/dataplane/ports.js'
import { Reconciler } from '../../../../edge/dataplane/reconciler.js'
import type { SitePolicy } from '../../../../edge/config/policy.js'
import { rng } from '../../../helpers/random.js'

export interface ContractEnv {
  kernel: KernelPort
  nft: NftPort
  own: Ownership
  facts: Facts
  /** Puts objects we do not own next to ours: other priorities, other protocols, main table, another nft table. */
  addForeign(): Promise<void>
  /** A text view of the foreign objects, read independently of our port. */
  foreign(): Promise<string>
  /** Someone deletes one of our rules behind our back. */
  deleteRuleBehindOurBack(rule: FibRule): Promise<void>
  close(): Promise<void>
}


export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const a = [...items]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}

/** The policy states the suites walk through, by name. */
export function decisionStates(policy: SitePolicy): Record<string, Decision[]> {
  const init = initialDecisions(policy)
  const move = (cls: string, to: string[], keep: string[]): Decision[] =>
    init.map(d => (d.class === cls ? { ...d, active: to.map(path => ({ path, weight: 1 })), keep, reason: `test: ${cls} → ${to.join(',') || 'drop'}` } : d))
  return {
    initial: init,
    'pos-to-bb-sticky': move('pos', ['bb'], ['mpls', 'bb']),
    'pos-to-bb-evicted': move('pos', ['bb'], ['bb']),
    'voip-dropped': move('voip', [], []),
    'web-bb-only': move('web', ['bb'], ['bb', 'lte']),
    'all-dropped': init.map(d => ({ ...d, active: [], keep: [], reason: 'test: all down' })),
  }
}

export const ownedText = (s: Pick<ActualState, 'rules' | 'routes'>): string =>
  [...s.rules.map(r => `rule ${ruleKey(r)}`), ...s.routes.map(r => `route ${routeKey(r)} ${routeBody(r)}`)].sort().join('\n')

export function dataplaneContract(t: Test, policy: SitePolicy, make: () => Promise<ContractEnv>): void {
  const seed = Number(process.env.DP_SEED ?? Date.now() % 100000)
  const logs: Array<[string, Record<string, unknown>]> = []
  const open = async (test: Test): Promise<{ env: ContractEnv; rec: Reconciler; want: (d: Decision[]) => DesiredState }> => {
    const env = await make()
    test.teardown(() => env.close())
    const rec = new Reconciler({ kernel: env.kernel, nft: env.nft, own: env.own, log: (e, f) => void logs.push([e, f]), now: () => performance.now(), timers: { setTimeout, clearTimeout }, restoreIntervalMs: 10 })
    test.teardown(() => rec.stop())
    return { env, rec, want: d => desired(policy, d, env.facts) }
  }

  t.test('apply reaches the desired state, and the kernel holds exactly it', async t => {
    const { env, rec, want } = await open(t)
    const w = want(initialDecisions(policy))
    const r = await rec.set(w)
    t.same(r.failed.map(f => f.error.message), [])
    t.equal(ownedText(r.reached), ownedText(w), 'reached = desired')
    t.equal(ownedText(await env.kernel.dump()), ownedText(w), 'a fresh dump = desired')
    t.equal(r.reached.nftDigest, w.nftDigest)
    t.equal(await env.nft.digest(env.own.nftTable), w.nftDigest, 'nft table carries the digest')
    t.same((await rec.set(w)).ops, [], 'applying again does nothing')
  })

  t.test(`states replayed in random order converge (seed ${seed})`, async t => {
    const { env, rec, want } = await open(t)
    const states = decisionStates(policy)
    const random = rng(seed)
    const order = shuffle([...Object.keys(states), ...Object.keys(states)], random)
    for (const name of order) {
      const w = want(states[name]!)
      const r = await rec.set(w)
      t.same(r.failed.map(f => f.error.message), [], `${name}: no failures`)
      t.equal(ownedText(await env.kernel.dump()), ownedText(w), `${name}: kernel = desired`)
    }
  })

  t.test('one class re-steered is a handful of rule ops and no nft reload', async t => {
    const { rec, want } = await open(t)
    const states = decisionStates(policy)
    await rec.set(want(states.initial!))
    const r = await rec.set(want(states['pos-to-bb-evicted']!))
    t.ok(r.ops.length > 0 && r.ops.length <= 8, `${r.ops.length} ops`)
    t.ok(r.ops.every(o => o.kind === 'add-rule' || o.kind === 'del-rule'), 'rules only')
  })

  t.test('foreign objects survive apply and teardown; teardown leaves nothing of ours', async t => {
    const { env, rec, want } = await open(t)
    await env.addForeign()
    const before = await env.foreign()
    await rec.set(want(initialDecisions(policy)))
    t.equal(await env.foreign(), before, 'after apply')
    const r = await rec.set(null)
    t.same(r.failed.map(f => f.error.message), [])
    t.equal(ownedText(await env.kernel.dump()), '', 'no rule or route of ours left')
    t.equal(await env.nft.digest(env.own.nftTable), null, 'our nft table is gone')
    t.equal(await env.foreign(), before, 'after teardown')
    t.same((await rec.set(null)).ops, [], 'teardown again does nothing')
  })

  t.test('a partially applied state (a crash) converges on the next set', async t => {
    const { env, rec, want } = await open(t)
    const w = want(initialDecisions(policy))
    const full = await rec.set(w)
    await rec.set(null)
    // Replay only a prefix of the ops, as if the process died midway.
    const prefix = full.ops.filter(o => o.kind !== 'load-nft' && o.kind !== 'delete-nft').slice(0, Math.floor(full.ops.length / 2))
    await env.kernel.apply(prefix as never)
    const r = await rec.set(w)
    t.same(r.failed.map(f => f.error.message), [])
    t.equal(ownedText(await env.kernel.dump()), ownedText(w))
  })

  t.test('VXLAN links: created, dumped back as created, changed by replacement, removed idempotently', async t => {
    const { env, rec, want } = await open(t)
    const base = want(initialDecisions(policy))
    // Underlays on the contract's uplinks: up-mpls has 203.0.113.2, up-bb 2001:db8:b::2.
    const v4: VxlanLink = { name: 'sw-vx4', vni: 100, local: '203.0.113.2', remote: '203.0.113.10', port: 4789, ttl: 64, mtu: 1450, innerAddresses: ['10.255.7.2/30'] }
    const v6: VxlanLink = { name: 'sw-vx6', vni: 200, local: '2001:db8:b::2', remote: '2001:db8:b::10', port: 4790, ttl: 32, mtu: 1430, innerAddresses: ['10.255.8.2/30', 'fd00:255:8::2/64'] }
    const sorted = (links: VxlanLink[]) => links.map(l => ({ ...l, innerAddresses: [...l.innerAddresses].sort() })).sort((a, b) => a.name.localeCompare(b.name))
    const through: Route = { family: 4, table: env.own.tables.to, dst: '10.77.0.0/16', type: 'unicast', device: v4.name, metric: 100, comment: '' }
    const withLinks = (links: VxlanLink[]): DesiredState => ({ ...base, routes: [...base.routes, through], vxlanLinks: links })
    const first = await rec.set(withLinks([v4, v6]))
    t.same(first.failed.map(f => f.error.message), [])
    t.same(sorted((await env.kernel.dump()).vxlanLinks), sorted([v4, v6]), 'a fresh dump decodes both as created')
    t.same((await rec.set(withLinks([v4, v6]))).ops, [], 'applying again does nothing')
    const changed = { ...v4, vni: 101, ttl: 9, mtu: 1400 }
    const r = await rec.set(withLinks([changed, v6]))
    t.same(r.ops.map(o => o.kind), ['del-vxlan', 'add-vxlan', 'add-route'], 'a changed VNI, TTL and MTU: the link is replaced, and the route through it added again')
    t.same(r.failed.map(f => f.error.message), [])
    const after = await env.kernel.dump()
    t.same(sorted(after.vxlanLinks), sorted([changed, v6]))
    t.equal(ownedText(after), ownedText(withLinks([changed, v6])), 'the route through the new link is there')
    const gone = await rec.set(base)
    t.same(gone.ops.map(o => o.kind), ['del-route', 'del-vxlan', 'del-vxlan'])
    t.same((await env.kernel.dump()).vxlanLinks, [], 'none left')
    const again = await env.kernel.apply([{ kind: 'del-vxlan', link: v4 }])
    t.same(again.map(e => e?.message), [undefined], 'deleting a missing link is success')
    const twice = await env.kernel.apply([{ kind: 'add-vxlan', link: v4 }, { kind: 'add-vxlan', link: v4 }])
    t.same(twice.map(e => e?.message), [undefined, undefined], 'adding an existing link is success (EEXIST)')
    await env.kernel.apply([{ kind: 'del-vxlan', link: v4 }])
  })

  t.test('a rule deleted behind our back is restored and logged', async t => {
    const { env, rec, want } = await open(t)
    const w = want(initialDecisions(policy))
    await rec.set(w)
    rec.watch()
    const victim = w.rules.find(r => r.fwmark !== undefined)!
    await env.deleteRuleBehindOurBack(victim)
    for (let i = 0; i < 200 && !(await env.kernel.dump()).rules.some(r => ruleKey(r) === ruleKey(victim)); i++) await new Promise(r => setTimeout(r, 10))
    t.ok((await env.kernel.dump()).rules.some(r => ruleKey(r) === ruleKey(victim)), 'restored')
    for (let i = 0; i < 100 && !logs.some(([e]) => e === 'dataplane.restored'); i++) await new Promise(r => setTimeout(r, 10))
    t.ok(logs.some(([e]) => e === 'dataplane.restored'), 'logged')
  })
}
