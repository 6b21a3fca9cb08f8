// The IPsec tunnels on kernel ESP, in the VM lab (one boot of Debian's kernel under QEMU TCG): an xfrm
// interface's life, the real daemon choosing kernel ESP by itself and carrying POS through xfrm interfaces
// with only ESP on the wire, failing over without cleartext, and gre-over-ipsec through the tunnel manager.
// The pure parts (wire counters, link counters, the GRE-over-IPsec lab policy) are tested without the VM.
import t from 'tap'
import { parsePolicy } from '../../../../edge/config/load.js'
import { greLinks, ipsecConns } from '../../../../edge/dataplane/tunnels.js'
import { IPSEC_MODULES, IPSEC_SCRIPT, IPSEC_SUITE } from '../../../../images/lab/vm/ipsec-suite.js'
import { runSuite } from '../../../../images/lab/vm/vm-suite.js'
import { assertSuite } from '../helpers/suite-checks.js'
import { greIpsecPolicy } from '../../../../images/lab/vm/scenarios/gre-ipsec.js'
import { parseLinkCounters } from '../../../../images/lab/link-counters.js'
import { parseWireCounters, wireDelta, wireRuleset } from '../../../../images/lab/vm/scenarios/wire-counters.js'
import { vmLabSkip } from '../helpers/lab-capabilities.js'

t.test('the wire counters: ESP in UDP told from IKE by the non-ESP marker, counted before impairments', async t => {
  const ruleset = wireRuleset(['10.20.0.0/16', '10.255.0.0/24'], 'wan-bb')
  t.match(ruleset, /type filter hook forward priority -10; policy accept;/)
  t.match(ruleset, /udp dport 4500 @th,64,32 != 0 counter name esp_udp/)
  t.match(ruleset, /meta l4proto gre counter name gre_clear/)
  t.match(ruleset, /iifname "wan-bb" meta l4proto gre counter name gre_from_edge/)
  t.match(ruleset, /ip saddr \{ 10\.20\.0\.0\/16, 10\.255\.0\.0\/24 \} counter name clear/)
  t.throws(() => wireRuleset([], 'wan-bb'), RangeError)
  const counter = (name: string, packets: number) => ({ counter: { family: 'inet', name, table: 'wire', packets, bytes: packets * 100 } })
  const json = JSON.stringify({ nftables: [{ metainfo: {} }, counter('esp_udp', 120), counter('esp_raw', 0), counter('gre_clear', 2), counter('gre_from_edge', 1), counter('clear', 3)] })
  t.same(parseWireCounters(json), { espInUdp: 120, espRaw: 0, greClear: 2, greFromEdge: 1, clear: 3 })
  t.throws(() => parseWireCounters(JSON.stringify({ nftables: [counter('esp_udp', 1)] })), /no counter "esp_raw"/)
  t.same(wireDelta({ espInUdp: 10, espRaw: 0, greClear: 1, greFromEdge: 1, clear: 0 }, { espInUdp: 25, espRaw: 0, greClear: 1, greFromEdge: 1, clear: 2 }), { espInUdp: 15, espRaw: 0, greClear: 0, greFromEdge: 0, clear: 2 })
})

t.test('link counters and the xfrm if_id from ip -d -s -j link', async t => {
  const xfrm = JSON.stringify([{ ifname: 'sw-dc1-bb', mtu: 1435, linkinfo: { info_kind: 'xfrm', info_data: { link: 'NONE', if_id: 1560281089 } }, stats64: { rx: { packets: 7 }, tx: { packets: 42 } } }])
  t.same(parseLinkCounters(xfrm), { txPackets: 42, rxPackets: 7, kind: 'xfrm', ifId: 1560281089 })
  t.same(parseLinkCounters(JSON.stringify([{ ifname: 'e0', stats64: { rx: { packets: 1 }, tx: { packets: 2 } } }])), { txPackets: 2, rxPackets: 1, kind: undefined, ifId: undefined })
  t.throws(() => parseLinkCounters('[{"ifname":"gre-edge"}]'), /no stats64/, 'a link without counters is an error, not zero')
})

t.test('the gre-over-ipsec lab policy is valid and gives one GRE link and its transport-mode conn', async t => {
  const parsed = parsePolicy('gix.yaml', greIpsecPolicy('/run/gix.psk'))
  if (!parsed.ok) return t.fail(JSON.stringify(parsed.errors))
  t.match(greLinks(parsed.policy, {}), [{ kind: 'gre', name: 'sw-gre-bb', local: '192.0.2.1', remote: '198.51.100.1', mtu: 1431 }])
  t.match(ipsecConns(parsed.policy, {}), [{ name: 'gre-bb', device: 'sw-gre-bb', transport: 'transport', mtu: 1431 }])
})

t.test('the guest runs the IPsec scenario with the tunnel modules and tun', async t => {
  t.equal(IPSEC_SCRIPT, 'exec node --import tsx images/lab/vm/scenarios/ipsec-kernel.ts\n')
  for (const m of ['esp4', 'xfrm_user', 'xfrm_interface', 'ip_gre', 'tun', 'nf_tables']) t.ok(IPSEC_MODULES.includes(m), m)
})

t.test('VM: kernel ESP with xfrm interfaces and GRE over IPsec', { skip: vmLabSkip(), timeout: 660_000 }, async t => {
  assertSuite(t, IPSEC_SUITE, await runSuite(IPSEC_SUITE))
})
