import t from 'tap'
import type { Selector } from '../../../edge/config/policy.js'
import { selectorCovers } from '../../../edge/config/shadowing.js'

const cases: Array<[string, Selector, Selector, boolean]> = [
  ['empty-handed outer covers everything', { segments: ['store'] }, { segments: ['store'], protocol: 'tcp', ports: [443] }, true],
  ['narrower outer does not cover wider inner', { segments: ['store'], protocol: 'tcp' }, { segments: ['store'] }, false],
  ['segment subset', { segments: ['store', 'office'] }, { segments: ['office'] }, true],
  ['segment not a subset', { segments: ['store'] }, { segments: ['store', 'guest'] }, false],
  ['port range covers port', { protocol: 'udp', ports: ['10000-20000'] }, { protocol: 'udp', ports: [16384] }, true],
  ['port range partly outside', { protocol: 'udp', ports: ['10000-20000'] }, { protocol: 'udp', ports: ['19000-21000'] }, false],
  ['different protocol', { protocol: 'udp', ports: [53] }, { protocol: 'tcp', ports: [53] }, false],
  ['prefix contains prefix', { destinationPrefixes: ['10.0.0.0/8'] }, { destinationPrefixes: ['10.20.0.0/16', '10.30.0.0/16'] }, true],
  ['one inner prefix outside', { destinationPrefixes: ['10.0.0.0/8'] }, { destinationPrefixes: ['10.20.0.0/16', '172.16.0.0/12'] }, false],
  ['dscp subset', { dscp: [46, 34] }, { dscp: [46] }, true],
  ['wildcard domain covers subdomain', { domains: ['*.example.com'] }, { domains: ['pay.example.com'] }, true],
  ['name does not cover wildcard', { domains: ['pay.example.com'] }, { domains: ['*.example.com'] }, false],
  ['prefixes cannot cover learned domains', { destinationPrefixes: ['10.0.0.0/8'] }, { domains: ['pay.example.com'] }, false],
  ['domains do not cover prefixes', { domains: ['*.example.com'] }, { destinationPrefixes: ['10.0.0.0/8'] }, false],
]

for (const [name, outer, inner, want] of cases) {
  t.equal(selectorCovers(outer, inner), want, name)
}
