// Table-driven tests of diff(): op order, idempotence, minimal re-steer, teardown.
import t from 'tap'
import { desired, initialDecisions } from '../../../edge/dataplane/desired.js'
import { diff } from '../../../edge/dataplane/diff.js'
import type { DesiredState, Facts, Route } from '../../../edge/dataplane/model.js'
import { describeOp, EMPTY_ACTUAL, type ActualState, type Op } from '../../../edge/dataplane/ops.js'
import { fold } from '../../../edge/dataplane/reached.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'

const policy = policyFromYaml(THREE_UPLINKS_YAML)
const facts: Facts = {}
const initial = desired(policy, initialDecisions(policy), facts)
const applied = (want: DesiredState | null, from: ActualState = EMPTY_ACTUAL): ActualState => diff(want, from, 'sdwan').reduce(fold, from)
const kinds = (ops: Op[]): string[] => ops.map(o => o.kind)

t.test('from nothing: routes (connected, gateway, blackhole), rules, nft; no deletes', async t => {
  const ops = diff(initial, EMPTY_ACTUAL, 'sdwan')
  const k = kinds(ops)
  t.equal(k.filter(x => x.startsWith('del')).length, 0)
  const lastRoute = k.lastIndexOf('add-route')
  t.ok(lastRoute < k.indexOf('add-rule'), 'every route before the first rule')
  t.equal(k.at(-1), 'load-nft', 'nft last, after the rules it marks for')
  const routeRanks = ops.flatMap(o => (o.kind === 'add-route' ? [o.route.type === 'blackhole' ? 2 : o.route.gateway ? 1 : 0] : []))
  t.same(routeRanks, [...routeRanks].sort(), 'connected, then gateway, then blackhole routes')
})

t.test('applying the same state again is empty', async t => {
  const have = applied(initial)
  t.same(diff(initial, have, 'sdwan'), [])
  t.same(diff(desired(policy, initialDecisions(policy), facts), have, 'sdwan'), [], 'a fresh desired() of the same input too')
})

t.test('re-steering one class is a handful of rule ops, no routes, no nft', async t => {
  const have = applied(initial)
  const decisions = initialDecisions(policy).map(d => (d.class === 'pos' ? { ...d, active: [{ path: 'bb', weight: 1 }], keep: ['bb'] } : d))
  const ops = diff(desired(policy, decisions, facts), have, 'sdwan')
  t.same(ops.map(describeOp), [
    'add-rule ipv4 pref 10001 fwmark 0x110000/0xff0000 lookup 1001',
    'add-rule ipv6 pref 10001 fwmark 0x110000/0xff0000 lookup 1001',
    'add-rule ipv4 pref 10002 fwmark 0x10000/0xf0000 lookup 1001',
    'add-rule ipv6 pref 10002 fwmark 0x10000/0xf0000 lookup 1001',
    'del-rule ipv4 pref 10001 fwmark 0x310000/0xff0000 lookup 1003',
    'del-rule ipv6 pref 10001 fwmark 0x310000/0xff0000 lookup 1003',
    'del-rule ipv4 pref 10002 fwmark 0x10000/0xf0000 lookup 1003',
    'del-rule ipv6 pref 10002 fwmark 0x10000/0xf0000 lookup 1003',
  ])
})

t.test('a changed gateway is replaced in place', async t => {
  const have = applied(initial)
  const p2 = policyFromYaml(THREE_UPLINKS_YAML.replace('gateway4: 192.0.2.1', 'gateway4: 192.0.2.254'))
  const ops = diff(desired(p2, initialDecisions(p2), facts), have, 'sdwan')
  t.same(ops.map(describeOp), ['replace-route ipv4 table 1001 0.0.0.0/0 via 192.0.2.254 dev up-bb metric 100'])
})

t.test('a policy change that alters classification reloads nft once', async t => {
  const have = applied(initial)
  const p2 = policyFromYaml(THREE_UPLINKS_YAML.replace('ports: [5060, "10000-20000"]', 'ports: [5060]'))
  const ops = diff(desired(p2, initialDecisions(p2), facts), have, 'sdwan')
  t.same(kinds(ops), ['load-nft'])
})

t.test('teardown: nft first, then rules, then routes; nothing left', async t => {
  const have = applied(initial)
  const ops = diff(null, have, 'sdwan')
  const k = kinds(ops)
  t.equal(k[0], 'delete-nft')
  t.ok(k.lastIndexOf('del-rule') < k.indexOf('del-route'))
  t.same(applied(null, have), EMPTY_ACTUAL)
  t.same(diff(null, EMPTY_ACTUAL, 'sdwan'), [], 'teardown of nothing is empty')
})

t.test('stale objects we own are deleted, after the adds', async t => {
  const stale: Route = { family: 4, table: 1007, dst: '10.9.0.0/16', type: 'unicast', device: 'old0', metric: 100, comment: '' }
  const have = { ...applied(initial), routes: [...applied(initial).routes, stale], rules: [...applied(initial).rules, { family: 4 as const, priority: 10002, fwmark: 0x90000, fwmask: 0xf0000, table: 1009, comment: '' }] }
  t.same(diff(initial, have, 'sdwan').map(describeOp), ['del-rule ipv4 pref 10002 fwmark 0x90000/0xf0000 lookup 1009', 'del-route ipv4 table 1007 10.9.0.0/16 dev old0 metric 100'])
})

t.test('GRE links: created before routes, recreated when their endpoints change', async t => {
  const gre = { kind: 'gre' as const, name: 'sw-dc1', local: '192.0.2.2', remote: '203.0.113.10', ttl: 64, mtu: 1476, innerAddresses: ['10.255.0.2/30'] }
  const want = { ...initial, greLinks: [gre] }
  t.equal(diff(want, EMPTY_ACTUAL, 'sdwan')[0]?.kind, 'add-gre')
  const moved = { ...want, greLinks: [{ ...gre, remote: '203.0.113.11' }] }
  t.same(kinds(diff(moved, applied(want), 'sdwan')), ['del-gre', 'add-gre'])
  t.equal(kinds(diff(initial, applied(want), 'sdwan')).at(-1), 'del-gre', 'an unwanted link goes last')
})

t.test('a recreated link gets its routes again (deleting a device takes its routes along)', async t => {
  const vx = { name: 'sw-dc1', vni: 100, local: '203.0.113.2', remote: '203.0.113.10', port: 4789, ttl: 64, mtu: 1450, innerAddresses: ['10.255.0.2/30'] }
  const through: Route = { family: 4, table: 1004, dst: '10.20.0.0/16', type: 'unicast', device: 'sw-dc1', metric: 100, comment: '' }
  const want = { ...initial, routes: [...initial.routes, through], vxlanLinks: [vx] }
  const have = applied(want)
  t.same(diff(want, have, 'sdwan'), [], 'nothing to do')
  const ops = diff({ ...want, vxlanLinks: [{ ...vx, vni: 101 }] }, { ...have, routes: want.routes }, 'sdwan').map(describeOp)
  t.same(ops, ['del-vxlan sw-dc1 vni 100 203.0.113.2 -> 203.0.113.10:4789', 'add-vxlan sw-dc1 vni 101 203.0.113.2 -> 203.0.113.10:4789', 'add-route ipv4 table 1004 10.20.0.0/16 dev sw-dc1 metric 100'], 'even when the reconciler trusts its record of the routes')
})

t.test('a tunnel that changed type keeps its device name: the old kind goes before the new one is added', async t => {
  const gre = { kind: 'gre' as const, name: 'sw-dc1', local: '203.0.113.2', remote: '203.0.113.10', ttl: 64, mtu: 1476, innerAddresses: ['10.255.0.2/30'] }
  const vx = { name: 'sw-dc1', vni: 100, local: '203.0.113.2', remote: '203.0.113.10', port: 4789, ttl: 64, mtu: 1450, innerAddresses: ['10.255.0.2/30'] }
  const asGre = { ...initial, greLinks: [gre] }
  const asVxlan = { ...initial, vxlanLinks: [vx] }
  t.same(kinds(diff(asVxlan, applied(asGre), 'sdwan')), ['del-gre', 'add-vxlan'])
  t.same(kinds(diff(asGre, applied(asVxlan), 'sdwan')), ['del-vxlan', 'add-gre'])
})
