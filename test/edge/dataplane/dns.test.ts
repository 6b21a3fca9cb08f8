// DNS answer parsing, domain matching and the set elements they become. Pure.
import t from 'tap'
import { dnsPayload, parseDnsAnswer } from '../../../edge/dataplane/dns/answers.js'
import { classForNames, domainMatches } from '../../../edge/dataplane/dns/domains.js'
import { elementLines } from '../../../edge/dataplane/dns/snooper.js'
import { desired } from '../../../edge/dataplane/desired.js'
import { dnsResponse, udp4From53 } from './helpers/dns-message.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'

const policy = policyFromYaml(
  THREE_UPLINKS_YAML.replace(
    "match: [{ segments: [store], protocol: udp, ports: [5060, \"10000-20000\"] }, { segments: [store], dscp: [46] }]",
    "match: [{ segments: [store], protocol: udp, ports: [5060, \"10000-20000\"] }, { segments: [store], dscp: [46] }, { domains: [\"*.pbx.example.com\", \"pbx.example.com\"] }]",
  ),
)

const answer = dnsResponse('sip.pbx.example.com', [
  { name: 'sip.pbx.example.com', type: 'CNAME', ttl: 300, data: 'edge7.cdn.example.net' },
  { name: 'edge7.cdn.example.net', type: 'A', ttl: 30, data: '192.0.2.77' },
  { name: 'edge7.cdn.example.net', type: 'AAAA', ttl: 600, data: '2001:db8::77' },
])

t.test('answers: names along the CNAME chain, addresses with TTLs', async t => {
  t.same(parseDnsAnswer(answer), {
    names: ['sip.pbx.example.com', 'edge7.cdn.example.net'],
    addresses: [
      { family: 4, address: '192.0.2.77', ttl: 30 },
      { family: 6, address: '2001:db8::77', ttl: 600 },
    ],
  })
  t.same(parseDnsAnswer(dnsResponse('pbx.example.com', [{ name: 'pbx.example.com', type: 'A', ttl: 5, data: '198.51.100.9' }]))?.addresses, [{ family: 4, address: '198.51.100.9', ttl: 5 }], 'compressed owner name')
  t.equal(parseDnsAnswer(dnsResponse('x.example.com', [], 3)), undefined, 'NXDOMAIN')
  t.equal(parseDnsAnswer(Buffer.from([1, 2, 3])), undefined, 'truncated')
  const cut = answer.subarray(0, answer.length - 5)
  t.same(parseDnsAnswer(cut)?.addresses, [{ family: 4, address: '192.0.2.77', ttl: 30 }], 'a truncated record is dropped, earlier ones kept')
  t.same(dnsPayload(udp4From53(answer)), answer)
  const notDns = udp4From53(answer)
  notDns.writeUInt16BE(5353, 20)
  t.equal(dnsPayload(notDns), undefined, 'source port is not 53')
})

t.test('domain patterns', async t => {
  const cases: Array<[string, string, boolean]> = [
    ['pbx.example.com', 'pbx.example.com', true],
    ['pbx.example.com', 'PBX.Example.com.', true],
    ['pbx.example.com', 'sip.pbx.example.com', false],
    ['*.pbx.example.com', 'sip.pbx.example.com', true],
    ['*.pbx.example.com', 'a.b.pbx.example.com', true],
    ['*.pbx.example.com', 'pbx.example.com', false],
    ['*.pbx.example.com', 'xpbx.example.com', false],
  ]
  for (const [p, n, want] of cases) t.equal(domainMatches(p, n), want, `${p} ~ ${n}`)
  t.equal(classForNames(policy, ['edge7.cdn.example.net', 'sip.pbx.example.com']), 'voip')
  t.equal(classForNames(policy, ['www.example.org']), undefined)
})

t.test('set elements: the class set per family, TTL with a floor', async t => {
  t.same(elementLines(policy, udp4From53(answer)), [
    'add element inet sdwan dom4_voip { 192.0.2.77 timeout 60s }',
    'add element inet sdwan dom6_voip { 2001:db8::77 timeout 600s }',
  ])
  t.same(elementLines(policy, udp4From53(dnsResponse('www.example.org', [{ name: 'www.example.org', type: 'A', ttl: 60, data: '203.0.113.5' }]))), [])
  const nft = desired(policy, [], {}).nft
  t.match(nft, /set dom4_voip \{ type ipv4_addr; flags timeout; timeout 3600s; \}/)
  t.match(nft, /udp sport 53 oifname \{ "lan0", "lan1" \} log group 4242/)
  t.match(nft, /ip daddr @dom4_voip meta mark set/)
})
