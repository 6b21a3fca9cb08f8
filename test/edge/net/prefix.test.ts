import t from 'tap'
import { contains, formatAddress, formatPrefix, hasHostBits, networkOf, overlaps, parseAddress, parsePrefix } from '../../../edge/net/prefix.js'

t.test('parsePrefix accepts CIDR and bare addresses, rejects the rest', async t => {
  const cases: Array<[string, string | undefined]> = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['198.51.100.2/30', '198.51.100.2/30'],
    ['192.0.2.1', '192.0.2.1/32'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['::/0', '::/0'],
    ['fd42:42::1/64', 'fd42:42::1/64'],
    ['::ffff:192.0.2.1/128', '::ffff:c000:201/128'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['10.0.0.0/33', undefined],
    ['2001:db8::/129', undefined],
    ['10.0.0.256/8', undefined],
    ['10.0.0.0/', undefined],
    ['10.0.0.0/-1', undefined],
    ['example.com/24', undefined],
  ]
  for (const [input, want] of cases) {
    const p = parsePrefix(input)
    t.equal(p ? formatPrefix(p) : undefined, want, input)
  }
})

t.test('containment, overlap and host bits', async t => {
  const p = (s: string) => parsePrefix(s)!
  t.ok(contains(p('10.0.0.0/8'), p('10.20.0.0/16')))
  t.notOk(contains(p('10.20.0.0/16'), p('10.0.0.0/8')))
  t.ok(contains(p('0.0.0.0/0'), p('192.0.2.1/32')))
  t.notOk(contains(p('0.0.0.0/0'), p('2001:db8::/32')), 'families never contain each other')
  t.ok(contains(p('2001:db8::/32'), p('2001:db8:ff::/48')))
  t.ok(overlaps(p('10.1.0.0/16'), p('10.0.0.0/8')))
  t.notOk(overlaps(p('10.1.0.0/16'), p('10.2.0.0/16')))
  t.ok(hasHostBits(p('10.20.0.1/16')))
  t.notOk(hasHostBits(p('10.20.0.0/16')))
  t.equal(formatPrefix(networkOf(p('198.51.100.2/30'))), '198.51.100.0/30')
  t.equal(formatPrefix(networkOf(p('2001:db8::1/64'))), '2001:db8::/64')
})

t.test('addresses format the RFC 5952 way', async t => {
  const f = (s: string) => {
    const a = parseAddress(s)!
    return formatAddress(a.family, a.value)
  }
  t.equal(f('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1')
  t.equal(f('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1', 'the longest zero run is compressed')
  t.equal(f('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1', 'the first of equal runs is compressed')
  t.equal(f('::'), '::')
  t.equal(f('192.0.2.10'), '192.0.2.10')
  t.equal(parseAddress('not-an-address'), undefined)
})
