// Table-driven tests of the pure desired-state builder: layout, marks, routes, rules, nft text.
import t from 'tap'
import { desired, initialDecisions } from '../../../edge/dataplane/desired.js'
import { layout } from '../../../edge/dataplane/layout.js'
import { classValue, markValue } from '../../../edge/dataplane/marks.js'
import type { Decision, Facts } from '../../../edge/dataplane/model.js'
import { describeRoute, describeRule } from '../../../edge/dataplane/ops.js'
import { LayoutError } from '../../../edge/dataplane/errors.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'
import { readFileSync } from 'node:fs'
import { parsePolicy } from '../../../edge/config/load.js'

const policy = policyFromYaml(THREE_UPLINKS_YAML)
const up: Facts = {
  bb: { up: true, addresses: ['192.0.2.2/24'], mtu: 1500 },
  lte: { up: true, addresses: ['198.51.100.2/24'], mtu: 1500 },
  mpls: { up: true, addresses: ['203.0.113.2/24'], mtu: 1500 },
}

t.test('layout: ids, tables and the drop path', async t => {
  const l = layout(policy)
  t.same(
    l.paths.map(p => [p.name, p.kind, p.id, p.table, p.device ?? null]),
    [
      ['bb', 'direct', 1, 1001, 'up-bb'],
      ['lte', 'direct', 2, 1002, 'up-lte'],
      ['mpls', 'direct', 3, 1003, 'up-mpls'],
      ['drop', 'drop', 15, 1015, null],
    ],
  )
  t.same(l.classes, [{ name: 'pos', id: 1 }, { name: 'voip', id: 2 }, { name: 'guest', id: 3 }, { name: 'web', id: 4 }])
  t.same(l.priorities, { uplinkSource: 10000, sticky: 10001, classDefault: 10002 })
  t.equal(classValue(l.marks, 2), 0x00020000)
  t.equal(markValue(l.marks, 2, 3), 0x00320000)
})

t.test('layout refuses what does not fit the owned ranges', async t => {
  const cases: Array<[string, (p: typeof policy) => void, RegExp]> = [
    ['table range too small', p => (p.dataplane.tables = { from: 1000, to: 1005 }), /outside the owned range/],
    ['priority range too small', p => (p.dataplane.rulePriorities = { from: 10000, to: 10001 }), /too small/],
    ['mask not contiguous', p => (p.dataplane.fwmarkMask = 0x00f0f000), /contiguous/],
  ]
  for (const [name, mutate, re] of cases) {
    const p = structuredClone(policy)
    mutate(p)
    t.throws(() => layout(p), { name: 'LayoutError', message: re } as unknown as LayoutError, name)
  }
})

const rulesOf = (decisions: Decision[], facts: Facts = up): string[] => desired(policy, decisions, facts).rules.filter(r => r.family === 4).map(describeRule)

t.test('rules per decision', async t => {
  const cases: Array<{ name: string; decisions: Decision[]; expect: string[] }> = [
    {
      name: 'initial: every class on its first path; weighted web on both',
      decisions: initialDecisions(policy),
      expect: [
        'ipv4 pref 10000 from 192.0.2.2/32 lookup 1001',
        'ipv4 pref 10000 from 198.51.100.2/32 lookup 1002',
        'ipv4 pref 10000 from 203.0.113.2/32 lookup 1003',
        'ipv4 pref 10001 fwmark 0x310000/0xff0000 lookup 1003',
        'ipv4 pref 10002 fwmark 0x10000/0xf0000 lookup 1003',
        'ipv4 pref 10001 fwmark 0x220000/0xff0000 lookup 1002',
        'ipv4 pref 10002 fwmark 0x20000/0xf0000 lookup 1002',
        // guest is not sticky: no sticky rule
        'ipv4 pref 10002 fwmark 0x30000/0xf0000 lookup 1001',
        'ipv4 pref 10001 fwmark 0x140000/0xff0000 lookup 1001',
        'ipv4 pref 10001 fwmark 0x240000/0xff0000 lookup 1002',
        'ipv4 pref 10002 fwmark 0x40000/0xf0000 lookup 1001',
      ],
    },
    {
      name: 'pos moved to bb, existing pos flows kept on mpls',
      decisions: [{ class: 'pos', active: [{ path: 'bb', weight: 1 }], keep: ['mpls', 'bb'], reason: 'mpls brownout' }],
      expect: [
        'ipv4 pref 10000 from 192.0.2.2/32 lookup 1001',
        'ipv4 pref 10000 from 198.51.100.2/32 lookup 1002',
        'ipv4 pref 10000 from 203.0.113.2/32 lookup 1003',
        'ipv4 pref 10001 fwmark 0x110000/0xff0000 lookup 1001',
        'ipv4 pref 10001 fwmark 0x310000/0xff0000 lookup 1003',
        'ipv4 pref 10002 fwmark 0x10000/0xf0000 lookup 1001',
        'ipv4 pref 10002 fwmark 0x20000/0xf0000 lookup 1015',
        'ipv4 pref 10002 fwmark 0x30000/0xf0000 lookup 1015',
        'ipv4 pref 10002 fwmark 0x40000/0xf0000 lookup 1015',
      ],
    },
  ]
  for (const c of cases) t.same(rulesOf(c.decisions), c.expect, c.name)
})

t.test('a class with no path and no decision fails closed into the drop table', async t => {
  const rules = rulesOf([{ class: 'voip', active: [], keep: [], reason: 'all down' }])
  t.ok(rules.includes('ipv4 pref 10002 fwmark 0x20000/0xf0000 lookup 1015'))
  t.ok(rules.includes('ipv4 pref 10002 fwmark 0x10000/0xf0000 lookup 1015'), 'no decision: drop')
  t.notOk(rules.some(r => r.includes('0x220000')), 'no sticky rule when keep is empty')
})

t.test('a decision naming an unknown path is a LayoutError', async t => {
  t.throws(() => desired(policy, [{ class: 'pos', active: [{ path: 'nowhere', weight: 1 }], keep: [], reason: '' }], up), { name: 'LayoutError' })
})

t.test('routes: connected, default via gateway, blackholes; down uplinks keep only blackholes', async t => {
  const down: Facts = { ...up, lte: { up: false, addresses: [], mtu: 1500 } }
  const routes = desired(policy, [], down).routes.map(describeRoute)
  t.same(routes.filter(r => r.includes('table 1001')), [
    'ipv4 table 1001 192.0.2.0/24 dev up-bb metric 100',
    'ipv6 table 1001 2001:db8:b::/64 dev up-bb metric 100',
    'ipv4 table 1001 0.0.0.0/0 via 192.0.2.1 dev up-bb metric 100',
    'ipv6 table 1001 ::/0 via 2001:db8:b::1 dev up-bb metric 100',
    'ipv4 table 1001 0.0.0.0/0 blackhole metric 4294967295',
    'ipv6 table 1001 ::/0 blackhole metric 4294967295',
  ])
  t.same(routes.filter(r => r.includes('table 1002')), ['ipv4 table 1002 0.0.0.0/0 blackhole metric 4294967295', 'ipv6 table 1002 ::/0 blackhole metric 4294967295'])
  t.same(routes.filter(r => r.includes('table 1015')), ['ipv4 table 1015 0.0.0.0/0 blackhole metric 4294967295', 'ipv6 table 1015 ::/0 blackhole metric 4294967295'])
})

t.test('DHCP uplinks take addresses and gateways from facts; link-local is ignored', async t => {
  const p = policyFromYaml(THREE_UPLINKS_YAML.replace('addressing: { mode: static, ipv4: 198.51.100.2/24, gateway4: 198.51.100.1 }', 'addressing: { mode: dhcp }'))
  const none = desired(p, [], {})
  t.notOk(none.routes.some(r => r.table === 1002 && r.type === 'unicast'), 'no facts: DHCP uplink has no routes')
  const d = desired(p, [], { ...up, lte: { up: true, addresses: ['100.64.1.7/22', 'fe80::1/64'], gateway4: '100.64.0.1', mtu: 1500 } })
  t.same(d.routes.filter(r => r.table === 1002 && r.type === 'unicast').map(describeRoute), ['ipv4 table 1002 100.64.0.0/22 dev up-lte metric 100', 'ipv4 table 1002 0.0.0.0/0 via 100.64.0.1 dev up-lte metric 100'])
  t.ok(d.rules.some(r => r.src === '100.64.1.7/32' && r.table === 1002))
  t.notOk(d.rules.some(r => r.src?.startsWith('fe80')))
})

t.test('nft: selectors per family, restore, record, isolation, NAT', async t => {
  const { nft, nftDigest } = desired(policy, [], up)
  const has = (line: string): void => void t.ok(nft.includes(line), line)
  has(`comment "${nftDigest}"`)
  has('iifname != { "lan0", "lan1" } return')
  has('ct mark & 0x00ff0000 != 0 meta mark set ct mark & 0x00ff0000 return')
  has('iifname "lan0" ip saddr 10.42.0.10/32 meta mark set meta mark & 0xff00ffff | 0x00010000 return')
  has('iifname "lan0" meta l4proto udp th dport { 5060, 10000-20000 } meta mark set meta mark & 0xff00ffff | 0x00020000 return')
  has('iifname "lan0" ip dscp 46 meta mark set meta mark & 0xff00ffff | 0x00020000 return')
  has('iifname "lan0" ip6 dscp 46 meta mark set meta mark & 0xff00ffff | 0x00020000 return')
  has('iifname "lan0" meta mark set numgen random mod 4 map { 0-2 : 0x00140000, 3-3 : 0x00240000 } return')
  has('oifname "up-mpls" ct mark set ct mark & 0xff00ffff | 0x00310000')
  has('iifname "lan1" oifname "lan0" drop')
  has('meta nfproto ipv4 oifname { "up-bb", "up-lte" } masquerade')
  t.notOk(nft.includes('ip6 saddr 10.42'), 'a v4-only prefix selector has no v6 rule')
  t.equal(desired(policy, [{ class: 'pos', active: [], keep: [], reason: '' }], {}).nft, nft, 'decisions and facts never change the ruleset')
})

t.test('every example policy lays out and renders', async t => {
  for (const name of ['retail-store', 'regional-two-hubs', 'small-office-dual-broadband']) {
    const r = parsePolicy(name, readFileSync(new URL(`../../../policies/examples/${name}.yaml`, import.meta.url), 'utf8'))
    if (!r.ok) {
      t.fail(`${name} invalid`)
      continue
    }
    const d = desired(r.policy, initialDecisions(r.policy), {})
    t.ok(d.rules.length > 0 && d.routes.length > 0 && d.nft.startsWith('table inet'), name)
  }
})
