// The hand-written rtnetlink encoders, checked against the netlink package's own parsers, and the
// small pure helpers around the kernel ports (errno mapping, nft scripts, conntrack and udata parsing).
import t from 'tap'
import { rt } from 'netlink'
import { addressBytes, addressText, decodeGre, decodeRoute, decodeRule, decodeVxlan, greCreateRequest, attrsOf, routeRequest, ruleRequest, vxlanCreateRequest } from '../../../edge/dataplane/rtnl/codec.js'
import { alreadyDone, errnoName, opError } from '../../../edge/dataplane/rtnl/errno.js'
import { removeScript, replaceScript } from '../../../edge/dataplane/nft/port.js'
import { commentOfUserdata } from '../../../edge/dataplane/nft/table-comment.js'
import { uplinkFacts } from '../../../edge/dataplane/facts.js'
import type { FibRule, Route } from '../../../edge/dataplane/model.js'
import { DEFAULT_OWNERSHIP } from '../../../edge/dataplane/session.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'

const body = (p: Buffer | Uint8Array[]): Buffer => (Array.isArray(p) ? Buffer.concat(p) : p)

t.test('rules survive encode → kernel parser → decode', async t => {
  const rules: FibRule[] = [
    { family: 4, priority: 10000, src: '192.0.2.2/32', table: 1001, comment: '' },
    { family: 6, priority: 10000, src: '2001:db8:b::2/128', table: 1001, comment: '' },
    { family: 4, priority: 10001, fwmark: 0x00310000, fwmask: 0x00ff0000, table: 1003, comment: '' },
    { family: 6, priority: 10002, fwmark: 0x00010000, fwmask: 0x000f0000, table: 1015, comment: '' },
  ]
  for (const r of rules) {
    const req = ruleRequest(r, true, 201)
    t.equal(req.type, rt.MessageType.NEWRULE)
    const m = rt.parseRuleMessage(body(req.payload))
    t.equal(m.attrs.protocol, 201, 'adds carry our protocol')
    t.same(decodeRule(m, DEFAULT_OWNERSHIP), r)
    t.equal(rt.parseRuleMessage(body(ruleRequest(r, false, 201).payload)).attrs.protocol, undefined, 'deletes match any protocol')
  }
  t.equal(decodeRule(rt.parseRuleMessage(body(ruleRequest({ ...rules[0]!, priority: 32766 }, true, 201).payload)), DEFAULT_OWNERSHIP), undefined, 'outside our range: not ours')
})

t.test('routes survive encode → kernel parser → decode', async t => {
  const routes: Route[] = [
    { family: 4, table: 1001, dst: '0.0.0.0/0', type: 'unicast', gateway: '192.0.2.1', device: 'up-bb', metric: 100, comment: '' },
    { family: 6, table: 1001, dst: '2001:db8:b::/64', type: 'unicast', device: 'up-bb', metric: 100, comment: '' },
    { family: 4, table: 1015, dst: '0.0.0.0/0', type: 'blackhole', metric: 0xffffffff, comment: '' },
    { family: 6, table: 1015, dst: '::/0', type: 'blackhole', metric: 0xffffffff, comment: '' },
  ]
  for (const r of routes) {
    const m = rt.parseRouteMessage(body(routeRequest(r, 'add', 201, 7).payload))
    t.same(decodeRoute(m, DEFAULT_OWNERSHIP, i => (i === 7 ? 'up-bb' : undefined)), r)
  }
  const del = rt.parseRouteMessage(body(routeRequest(routes[0]!, 'delete', 201, 7).payload))
  t.equal(del.attrs.gateway, undefined, 'deletes name no next hop (any matches)')
  t.equal(del.data.scope, 'NOWHERE')
  const other = rt.parseRouteMessage(body(routeRequest(routes[0]!, 'add', 4, 7).payload))
  t.equal(decodeRoute(other, DEFAULT_OWNERSHIP, () => 'up-bb'), undefined, 'another protocol: not ours')
})

t.test('GRE links survive encode → decode of their link info', async t => {
  const link = { kind: 'gre' as const, name: 'sw-dc1', local: '203.0.113.2', remote: '172.16.0.10', key: 42, ttl: 64, mtu: 1472, innerAddresses: ['10.255.42.10/30'] }
  const m = rt.parseLinkMessage(body(greCreateRequest(link).payload))
  t.equal(m.attrs.ifname, 'sw-dc1')
  t.same(decodeGre(m.attrs.ifname!, m.attrs.mtu!, m.attrs.linkinfo, link.innerAddresses), link)
  const six = { ...link, kind: 'ip6gre' as const, local: '2001:db8::2', remote: '2001:db8::1', key: undefined }
  delete six.key
  const m6 = rt.parseLinkMessage(body(greCreateRequest(six).payload))
  t.same(decodeGre('sw-dc1', 1472, m6.attrs.linkinfo, six.innerAddresses), six)
})

t.test('VXLAN links survive encode → decode of their link info; learning is off on the wire', async t => {
  const link = { name: 'sw-dc1', vni: 4097, local: '203.0.113.2', remote: '172.16.0.10', port: 4789, ttl: 64, mtu: 1450, innerAddresses: ['10.255.42.10/30'] }
  const m = rt.parseLinkMessage(body(vxlanCreateRequest(link).payload))
  t.equal(m.attrs.ifname, 'sw-dc1')
  t.equal(m.attrs.mtu, 1450)
  t.same(decodeVxlan(m.attrs.ifname!, m.attrs.mtu!, m.attrs.linkinfo, link.innerAddresses), link)
  const data = attrsOf(attrsOf(m.attrs.linkinfo!).get(2)!)
  t.same([...data.get(7)!], [0], 'IFLA_VXLAN_LEARNING 0')
  t.same([...data.get(15)!], [0x12, 0xb5], 'IFLA_VXLAN_PORT 4789, big-endian')
  const six = { ...link, local: '2001:db8::2', remote: '2001:db8::1', port: 8472, mtu: 1430 }
  const m6 = rt.parseLinkMessage(body(vxlanCreateRequest(six).payload))
  t.same(decodeVxlan('sw-dc1', 1430, m6.attrs.linkinfo, six.innerAddresses), six, 'IPv6 endpoints travel in GROUP6/LOCAL6')
  t.equal(decodeGre('sw-dc1', 1430, m6.attrs.linkinfo, []), undefined, 'not a GRE link')
  t.equal(decodeVxlan('sw-dc1', 1472, rt.parseLinkMessage(body(greCreateRequest({ kind: 'gre', name: 'sw-dc1', local: '203.0.113.2', remote: '172.16.0.10', ttl: 64, mtu: 1472, innerAddresses: [] }).payload)).attrs.linkinfo, []), undefined, 'not a VXLAN link')
})

t.test('addresses and attributes', async t => {
  t.equal(addressText(addressBytes('2001:db8::1')), '2001:db8::1')
  t.equal(addressText(addressBytes('10.0.0.255')), '10.0.0.255')
  t.same([...attrsOf(Buffer.from([8, 0, 1, 0, 1, 2, 3, 4, 5, 0, 2, 0, 9, 0, 0, 0]))].map(([k, v]) => [k, [...v]]), [[1, [1, 2, 3, 4]], [2, [9]]])
})

t.test('errno mapping: names, idempotent outcomes, typed errors', async t => {
  t.equal(errnoName(-19), 'ENODEV')
  t.equal(errnoName(2), 'ENOENT')
  const rule = { family: 4 as const, priority: 10002, fwmark: 0x10000, fwmask: 0xf0000, table: 1001, comment: '' }
  t.ok(alreadyDone({ kind: 'add-rule', rule }, 'EEXIST'))
  t.ok(alreadyDone({ kind: 'del-rule', rule }, 'ENOENT'))
  t.ok(alreadyDone({ kind: 'del-route', route: { family: 4, table: 1, dst: '0.0.0.0/0', type: 'blackhole', metric: 1, comment: '' } }, 'ESRCH'))
  t.notOk(alreadyDone({ kind: 'add-rule', rule }, 'ENOENT'))
  t.equal(opError({ kind: 'add-rule', rule }, -17), undefined)
  const e = opError({ kind: 'add-rule', rule }, -22)
  t.match(e, { name: 'KernelError', errno: 'EINVAL', operation: 'add-rule', object: 'ipv4 pref 10002 fwmark 0x10000/0xf0000 lookup 1001' })
})

t.test('nft scripts and udata comments', async t => {
  t.equal(replaceScript('sdwan', 'table inet sdwan {\n}\n'), 'add table inet sdwan\ndelete table inet sdwan\ntable inet sdwan {\n}\n')
  t.equal(removeScript('sdwan'), 'add table inet sdwan\ndelete table inet sdwan\n')
  t.equal(commentOfUserdata(Buffer.from([0, 4, 0x61, 0x62, 0x63, 0])), 'abc')
  t.equal(commentOfUserdata(undefined), '')
})

t.test('facts: carrier plus an address makes an uplink up; gateways from main-table defaults', async t => {
  const policy = policyFromYaml(THREE_UPLINKS_YAML)
  const facts = uplinkFacts(policy, {
    links: [
      { name: 'up-bb', index: 2, up: true, carrier: true, mtu: 1500 },
      { name: 'up-lte', index: 3, up: true, carrier: false, mtu: 1428 },
    ],
    addresses: [
      { link: 'up-bb', family: 4, address: '192.0.2.2/24' },
      { link: 'up-lte', family: 4, address: '198.51.100.2/24' },
    ],
    defaultRoutes: [{ link: 'up-bb', family: 4, gateway: '192.0.2.1' }],
  })
  t.same(facts.bb, { up: true, addresses: ['192.0.2.2/24'], gateway4: '192.0.2.1', mtu: 1500 })
  t.equal(facts.lte?.up, false, 'no carrier')
  t.same(facts.mpls, { up: false, addresses: [], mtu: 0 }, 'missing link')
})
