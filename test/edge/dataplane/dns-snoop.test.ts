// DNS snooping on the real kernel: a DNS answer leaving the box toward the LAN is copied to NFLOG by
// our nft table, and its addresses land in the class's domain set.
import t from 'tap'
import { createSocket } from 'node:dgram'
import { desired, initialDecisions } from '../../../edge/dataplane/desired.js'
import { DnsSnooper } from '../../../edge/dataplane/dns/snooper.js'
import { NftCliPort } from '../../../edge/dataplane/nft/port.js'
import { ownershipOf } from '../../../edge/dataplane/ports.js'
import { openKernelSession } from '../../../edge/dataplane/session.js'
import { dnsResponse } from './helpers/dns-message.js'
import { enterTestNetns, ipBatch, sh, THREE_UPLINK_LINKS } from './helpers/netns.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'

await enterTestNetns(import.meta.url, 'dns')

const policy = policyFromYaml(
  THREE_UPLINKS_YAML.replace(
    "match: [{ segments: [store], protocol: udp, ports: [5060, \"10000-20000\"] }, { segments: [store], dscp: [46] }]",
    "match: [{ segments: [store], domains: [\"*.pbx.example.com\"] }]",
  ),
)

ipBatch([...THREE_UPLINK_LINKS, 'addr add 10.42.0.1/24 dev lan0'])

t.test('an answer for a voip domain fills dom4_voip and dom6_voip', async t => {
  const session = openKernelSession(ownershipOf(policy.dataplane), () => undefined)
  t.teardown(() => session.close())
  const r = await session.reconciler.set(desired(policy, initialDecisions(policy), {}))
  t.same(r.failed.map(f => f.error.message), [])
  const nft = new NftCliPort()
  const learned: string[] = []
  const snooper = new DnsSnooper({ policy, addElements: lines => nft.addElements(lines), log: e => void learned.push(e) })
  await snooper.start()
  t.teardown(() => snooper.stop())

  // A resolver on the box answers a LAN client: the answer leaves by lan0 from port 53.
  const sock = createSocket('udp4')
  await new Promise<void>(res => sock.bind({ address: '10.42.0.1', port: 53 }, () => res()))
  t.teardown(() => sock.close())
  const answer = dnsResponse('sip.pbx.example.com', [
    { name: 'sip.pbx.example.com', type: 'A', ttl: 120, data: '192.0.2.77' },
    { name: 'sip.pbx.example.com', type: 'AAAA', ttl: 120, data: '2001:db8::77' },
  ])
  const other = dnsResponse('www.example.org', [{ name: 'www.example.org', type: 'A', ttl: 120, data: '203.0.113.99' }])
  await new Promise<void>(res => sock.send(other, 5353, '10.42.0.10', () => res()))
  await new Promise<void>(res => sock.send(answer, 5353, '10.42.0.10', () => res()))

  const list = (set: string): string => sh('nft', 'list', 'set', 'inet', 'sdwan', set)
  for (let i = 0; i < 200 && !list('dom6_voip').includes('2001:db8::77'); i++) await new Promise(res => setTimeout(res, 10))
  t.match(list('dom4_voip'), /192\.0\.2\.77 timeout 2m/)
  t.match(list('dom6_voip'), /2001:db8::77 timeout 2m/)
  t.notMatch(list('dom4_voip'), /203\.0\.113\.99/, 'an unrelated name is not learned')
  // The log line follows nft's exit, which may come a moment after the elements are visible.
  for (let i = 0; i < 200 && !learned.includes('dataplane.dns-learned'); i++) await new Promise(res => setTimeout(res, 10))
  t.ok(learned.includes('dataplane.dns-learned'))
})
