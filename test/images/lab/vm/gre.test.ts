// GRE on a real kernel, in the VM lab (one boot of Debian's kernel; the host kernel has no GRE): the real
// KernelPort creates, dumps, replaces and removes GRE and ip6gre links, then the real daemon carries ERP
// over a plain GRE tunnel across MPLS to the lab hub, judges the tunnel by probes through it, and drops
// ERP (fail closed) when MPLS blacks out. The pure parts (nft watch, counters, hub commands) are tested
// without the VM.
import t from 'tap'
import { GRE_MODULES, GRE_SUITE, GRE_SUITE_SCRIPT } from '../../../../images/lab/vm/gre-suite.js'
import { runSuite } from '../../../../images/lab/vm/vm-suite.js'
import { assertSuite } from '../helpers/suite-checks.js'
import { greWatchRuleset, parseGreWatch } from '../../../../images/lab/vm/scenarios/gre-watch.js'
import { HUB_GRE_DEVICE, hubGreCommands } from '../../../../images/lab/hub-gre.js'
import { LAB_GRE_TUNNEL, labPolicy } from '../../../../images/lab/lab-policy.js'
import { retailBranch } from '../../../../images/lab/topology.js'
import { parsePolicy } from '../../../../edge/config/load.js'
import { vmLabSkip } from '../helpers/lab-capabilities.js'

t.test('the lab policy with ERP over GRE: valid, ERP only on the tunnel, fail closed', async t => {
  const topo = retailBranch('g-')
  const r = parsePolicy('lab.yaml', labPolicy(topo, { erpOverGre: true }))
  if (!r.ok) return t.fail(r.errors.map(e => e.message).join('; '))
  const gre = r.policy.tunnels.find(x => x.name === LAB_GRE_TUNNEL.name)
  t.match(gre, { type: 'gre', uplink: 'mpls', remote: topo.addresses.hubMpls, gre: { key: LAB_GRE_TUNNEL.key } })
  t.match(r.policy.classes.find(c => c.name === 'erp'), { paths: [LAB_GRE_TUNNEL.name], whenNoPath: 'drop' })
  const plain = parsePolicy('lab.yaml', labPolicy(topo))
  t.ok(plain.ok && !plain.policy.tunnels.some(x => x.type === 'gre'), 'without the option the lab has no GRE tunnel (the host kernel has no GRE)')
})

t.test("the hub's GRE end mirrors the edge's tunnel", async t => {
  const topo = retailBranch('g-')
  t.same(hubGreCommands(topo), [
    ['link', 'add', HUB_GRE_DEVICE, 'type', 'gre', 'local', topo.addresses.hubMpls, 'remote', topo.uplinks.mpls.address, 'key', String(LAB_GRE_TUNNEL.key), 'ttl', '64'],
    ['addr', 'add', `${LAB_GRE_TUNNEL.hubInner}/30`, 'dev', HUB_GRE_DEVICE],
    ['link', 'set', HUB_GRE_DEVICE, 'up'],
  ])
})

t.test('the GRE watch counts ERP by where it leaves, and GRE', async t => {
  const ruleset = greWatchRuleset('10.20.0.10', 7100)
  t.match(ruleset, /hook forward priority -300; policy accept;/)
  t.match(ruleset, /meta l4proto gre counter name "gre"/)
  t.match(ruleset, /ip daddr 10\.20\.0\.10 udp dport 7100 oifname "sw-\*" counter name "erp_into_tunnel"/)
  t.match(ruleset, /ip daddr 10\.20\.0\.10 udp dport 7100 oifname != "sw-\*" counter name "erp_clear"/)
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { counter: { family: 'inet', name: 'gre', table: 'lab_gre_watch', packets: 12, bytes: 1200 } },
      { counter: { family: 'inet', name: 'erp_into_tunnel', table: 'lab_gre_watch', packets: 30, bytes: 3000 } },
      { counter: { family: 'inet', name: 'erp_clear', table: 'lab_gre_watch', packets: 0, bytes: 0 } },
    ],
  })
  t.same(parseGreWatch(json), { gre: 12, erpIntoTunnel: 30, erpClear: 0 })
  t.throws(() => parseGreWatch('{"nftables":[]}'), /no counter "gre"/)
})

t.test('one boot runs both scenarios with both GRE families loaded', async t => {
  t.ok(GRE_MODULES.includes('ip_gre') && GRE_MODULES.includes('ip6_gre'))
  t.match(GRE_SUITE_SCRIPT, /ip netns exec grep-port node --import tsx images\/lab\/vm\/scenarios\/gre-port\.ts; port=\$\?/)
  t.match(GRE_SUITE_SCRIPT, /scenarios\/gre-daemon\.ts; daemon=\$\?\nexit \$\(\(port \| daemon\)\)/)
})

t.test('VM: GRE through the real KernelPort and the real daemon', { skip: vmLabSkip(), timeout: 600_000 }, async t => {
  assertSuite(t, GRE_SUITE, await runSuite(GRE_SUITE))
})
