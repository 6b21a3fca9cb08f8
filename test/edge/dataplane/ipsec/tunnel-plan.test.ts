// The pure parts of the tunnels layer: a conn's plan (instance, selectors, ids, ports, device) on either
// IPsec backend — libipsec's TUN, kernel ESP's xfrm interface (if_id, uncapped MTU), gre-over-ipsec's
// transport-mode SA over the GRE link —, slot allocation, TUN names out of /proc fdinfo, and the retransmit
// settings in strongswan.conf.
import t from 'tap'
import { parsePolicy } from '../../../../edge/config/load.js'
import { renderStrongswanConf } from '../../../../edge/dataplane/ipsec/charon-config.js'
import { freeSlot, INERT_RULE_FWMARK, LIBIPSEC_TUN_MTU, planTunnel, type TunnelPlanOptions } from '../../../../edge/dataplane/ipsec/tunnel-plan.js'
import { tunNamesFromFdinfo } from '../../../../edge/dataplane/ipsec/tun-device.js'
import { renderTunnel } from '../../../../edge/dataplane/ipsec/tunnel-conn.js'
import { greLinks, ipsecConns } from '../../../../edge/dataplane/tunnels.js'

const policyText = (extra = '') => `version: 1
serial: 1
site: { id: plan }
device: { id: edge-7 }
lan:
  - { name: store, interface: br0, prefixes: [10.1.0.0/24, "fd00:1::/64"] }
  - { name: office, interface: br2, prefixes: [10.2.0.0/24] }
  - { name: guest, interface: br1, prefixes: [10.9.0.0/24], isolated: true }
uplinks:
  - { name: bb, kind: broadband, interface: eth0, addressing: { mode: static, ipv4: 192.0.2.2/24, gateway4: 192.0.2.1 } }
  - { name: lte, kind: lte, interface: wwan0, addressing: { mode: dhcp } }
hubs:
  - { name: dc1, addresses: [203.0.113.10] }
tunnels:
  - { name: dc1-bb, type: ipsec, hub: dc1, uplink: bb, inner: { local: 10.255.0.2/30, remote: 10.255.0.1 }, remotePrefixes: [10.20.0.0/16], ipsec: { auth: { pskFile: /p }, localId: edge-7.example, ikeProposals: [aes256-sha256-x25519], espProposals: [aes256-sha256], dpdDelayS: 3 } }
  - { name: dc1-lte, type: ipsec, hub: dc1, uplink: lte, inner: { local: 10.255.0.6/30, remote: 10.255.0.5 }, ipsec: { auth: { pskFile: /p } } }
${extra}classes:
  - { name: pos, match: [{ segments: [store] }], paths: [dc1-bb] }
`

const options: TunnelPlanOptions = {
  runDir: '/run/x',
  ikePortBase: 20_000,
  hubIkePort: t => (t === 'dc1-bb' ? 4500 : 4600),
  anchorTable: s => 1999 - s,
  anchorRulePriority: s => 9999 - s,
  retransmit: { tries: 3, timeoutS: 1, base: 1.4 },
  backend: 'libipsec',
  xfrmIfId: s => 0x100 + s,
}
const kernel: TunnelPlanOptions = { ...options, backend: 'kernel' }

function load(text: string) {
  const r = parsePolicy('plan.yaml', text)
  if (!r.ok) throw new TypeError(JSON.stringify(r.errors))
  return r.policy
}

t.test('a conn becomes a charon instance and a tunnel', async t => {
  const policy = load(policyText())
  const conn = ipsecConns(policy, {}).find(c => c.name === 'dc1-bb')!
  const plan = planTunnel(policy, conn, 2, { kind: 'psk', secret: 's' }, options)
  t.same(plan.instance, {
    name: 'dc1-bb',
    ipsec: 'libipsec',
    confPath: '/run/x/dc1-bb.strongswan.conf',
    viciSocketPath: '/run/x/dc1-bb.vici',
    ikePort: 20_004,
    natTPort: 20_005,
    routingTable: 1997,
    routingTablePrio: 9997,
    installRoutes: false,
    routeRuleFwmark: INERT_RULE_FWMARK,
    retransmit: { tries: 3, timeoutS: 1, base: 1.4 },
  })
  t.same(plan.tunnel, {
    name: 'dc1-bb',
    local: { address: '192.0.2.2', ikePort: 20_004, id: 'edge-7.example' },
    remote: { address: '203.0.113.10', ikePort: 4500, id: '203.0.113.10' },
    auth: { kind: 'psk', secret: 's' },
    localTs: ['10.1.0.0/24', 'fd00:1::/64', '10.2.0.0/24', '10.255.0.2/32'],
    remoteTs: ['10.20.0.0/16', '10.255.0.1/32'],
    ikeProposals: ['aes256-sha256-x25519'],
    espProposals: ['aes256-sha256'],
    dpdDelaySec: 3,
  }, 'every non-isolated LAN prefix and the inner address, never the guest segment; the hub id defaults to its address')
  t.equal(conn.mtu, 1435, "the dataplane's MTU for the encapsulation")
  t.same(plan.device, { kind: 'tun', name: 'sw-dc1-bb', mtu: 1400, addresses: ['10.255.0.2/30'] }, "capped at libipsec's buffer size")
  const small = planTunnel(policy, { ...conn, mtu: 1300 }, 2, { kind: 'psk', secret: 's' }, options)
  t.match(small.device, { mtu: 1300 }, 'a smaller MTU is kept')
})

t.test('kernel ESP: the same tunnel on an xfrm interface with its if_id, at the full MTU', async t => {
  const policy = load(policyText())
  const conn = ipsecConns(policy, {}).find(c => c.name === 'dc1-bb')!
  const libipsec = planTunnel(policy, conn, 2, { kind: 'psk', secret: 's' }, options)
  const plan = planTunnel(policy, conn, 2, { kind: 'psk', secret: 's' }, kernel)
  t.same(plan.instance, { ...libipsec.instance, ipsec: 'kernel' }, 'same ports, socket and inert anchor rule; kernel-netlink does ESP')
  t.same(plan.tunnel, { ...libipsec.tunnel, local: { ...libipsec.tunnel.local, ikePort: 20_005 }, ifId: 0x102 }, 'the same selectors and proposals: the policy does not change with the backend')
  t.equal(plan.tunnel.local.ikePort, plan.instance.natTPort, "IKE and ESP on charon's NAT-T socket, the one socket-default lets the kernel decapsulate on")
  t.same(plan.device, { kind: 'xfrm', name: 'sw-dc1-bb', ifId: 0x102, mtu: 1435, addresses: ['10.255.0.2/30'] }, "no libipsec cap: the MTU the ESP-in-UDP stack leaves")
  const child = (renderTunnel(plan.tunnel).loadConn.children as Record<string, Record<string, unknown>>)['dc1-bb']!
  t.match(child, { mode: 'tunnel', if_id_in: '258', if_id_out: '258', start_action: 'none' })
  const plain = (renderTunnel(libipsec.tunnel).loadConn.children as Record<string, Record<string, unknown>>)['dc1-bb']!
  t.equal(plain.if_id_in, undefined, 'libipsec conns carry no if_id')
  t.equal(renderStrongswanConf(plan.instance).includes('kernel-libipsec'), false)
})

const GRE_OVER_IPSEC = `  - { name: gre-bb, type: gre-over-ipsec, hub: dc1, uplink: bb, inner: { local: 10.255.1.2/30, remote: 10.255.1.1 }, remotePrefixes: [10.30.0.0/16], ipsec: { auth: { pskFile: /p } } }
`

t.test('gre-over-ipsec on kernel ESP: a transport-mode SA for GRE between the endpoints, the GRE link as device', async t => {
  const policy = load(policyText(GRE_OVER_IPSEC))
  const conn = ipsecConns(policy, {}).find(c => c.name === 'gre-bb')!
  t.match(conn, { transport: 'transport', device: 'sw-gre-bb', local: '192.0.2.2', remote: '203.0.113.10' })
  const plan = planTunnel(policy, conn, 1, { kind: 'psk', secret: 's' }, kernel)
  t.same(plan.device, { kind: 'gre', name: 'sw-gre-bb' }, "the reconciler's GRE link, nothing for the tunnel to make")
  t.match(plan.tunnel, { localTs: ['192.0.2.2/32[gre]'], remoteTs: ['203.0.113.10/32[gre]'], mode: 'transport', startAction: 'trap' })
  t.equal(plan.tunnel.ifId, undefined, 'GRE leaves by the uplink, not through an xfrm interface: a policy without if_id')
  const child = (renderTunnel(plan.tunnel).loadConn.children as Record<string, Record<string, unknown>>)['gre-bb']!
  t.match(child, { mode: 'transport', local_ts: ['192.0.2.2/32[gre]'], remote_ts: ['203.0.113.10/32[gre]'], start_action: 'trap' })
  const link = greLinks(policy, {}).find(l => l.name === 'sw-gre-bb')!
  t.same(link, { kind: 'gre', name: 'sw-gre-bb', local: '192.0.2.2', remote: '203.0.113.10', ttl: 64, mtu: conn.mtu, innerAddresses: ['10.255.1.2/30'] }, 'the GRE link between the underlay endpoints, at the MTU of the whole stack')
  t.equal(conn.mtu, 1500 - (20 + 8 + 8 + 8 + 16 + 5) - 4, 'uplink MTU less ESP-in-UDP transport (outer IP counted once) and the GRE header')
  t.throws(() => planTunnel(policy, conn, 1, { kind: 'psk', secret: 's' }, options), {
    name: 'TunnelPlanError',
    message: /IPsec tunnel "gre-bb": gre-over-ipsec needs kernel GRE and kernel ESP in transport mode, but the IPsec backend in use is libipsec/,
  })
})

t.test('defaults: the device id as IKE id, every destination through the tunnel', async t => {
  const policy = load(policyText())
  const conn = ipsecConns(policy, { lte: { up: true, addresses: ['198.51.100.2/24'], gateway4: '198.51.100.1', mtu: 1500 } }).find(c => c.name === 'dc1-lte')!
  const plan = planTunnel(policy, conn, 0, { kind: 'psk', secret: 's' }, options)
  t.equal(plan.tunnel.local.id, 'edge-7')
  t.equal(plan.tunnel.remote.ikePort, 4600)
  t.same(plan.tunnel.remoteTs, ['0.0.0.0/0', '::/0', '10.255.0.5/32'])
})

t.test('conns that cannot be planned say why', async t => {
  const policy = load(policyText())
  const lte = ipsecConns(policy, {}).find(c => c.name === 'dc1-lte')!
  t.throws(() => planTunnel(policy, lte, 0, { kind: 'psk', secret: 's' }, options), { name: 'TunnelPlanError', message: /uplink lte has no address/ }, 'a DHCP uplink without an address yet')
  const bb = ipsecConns(policy, {}).find(c => c.name === 'dc1-bb')!
  t.throws(() => planTunnel(policy, bb, 30_000, { kind: 'psk', secret: 's' }, options), { message: /past 65535/ })
  t.throws(() => planTunnel(policy, { ...bb, name: 'nope' }, 0, { kind: 'psk', secret: 's' }, options), { message: /"nope": has no ipsec settings/ })
})

t.test('the libipsec TUN MTU', async t => {
  t.equal(LIBIPSEC_TUN_MTU, 1400)
})

t.test('slots: the lowest one free', async t => {
  t.equal(freeSlot([]), 0)
  t.equal(freeSlot([0, 1, 3]), 2)
  t.equal(freeSlot(new Set([1, 2])), 0)
})

t.test('TUN names from /proc/<pid>/fdinfo (drivers/net/tun.c tun_chr_show_fdinfo)', async t => {
  t.same(tunNamesFromFdinfo(['pos:\t0\nflags:\t02\nmnt_id:\t20\nino:\t1\n', 'pos:\t48\nflags:\t0100002\nmnt_id:\t71\nino:\t105\niff:\tipsec3\n', '']), ['ipsec3'])
  t.same(tunNamesFromFdinfo(['iff:\ta\n', 'iff:\tb\n']), ['a', 'b'])
})

t.test('strongswan.conf carries the retransmit settings when given', async t => {
  const base = { name: 'x', confPath: '/c', viciSocketPath: '/v', ikePort: 1, natTPort: 2, routingTable: 3, routingTablePrio: 4, installRoutes: false }
  const conf = renderStrongswanConf({ ...base, retransmit: { tries: 3, timeoutS: 1, base: 1.4 } })
  t.match(conf, /^ {2}retransmit_tries = 3\n {2}retransmit_timeout = 1\n {2}retransmit_base = 1\.4$/m)
  t.notMatch(renderStrongswanConf(base), /retransmit/, "charon's defaults otherwise")
})
