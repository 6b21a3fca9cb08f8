// Parsing of list-sa / updown event bodies (strongSwan vici README, "list-sa", "ike-updown", "child-updown").
import t from 'tap'
import { parseIkeSas, parseUpdown } from '../../../../edge/dataplane/vici/sa-state.js'

t.test('child-updown up: one IKE_SA with only the affected CHILD_SA', async t => {
  const u = parseUpdown({ up: 'yes', up1: { uniqueid: '1', state: 'ESTABLISHED', 'child-sas': { 'up1-2': { name: 'up1', uniqueid: '2', state: 'INSTALLED' } } } })
  t.equal(u.up, true)
  t.equal(u.ikeSas.length, 1)
  t.match(u.ikeSas[0], { name: 'up1', state: 'ESTABLISHED', children: [{ name: 'up1', uniqueId: '2', state: 'INSTALLED', encap: false, localTs: [] }] })
})

t.test('down events carry no `up` key', async t => {
  t.equal(parseUpdown({ up1: { state: 'DELETING' } }).up, false)
})

t.test('an IKE_SA without child-sas (ike-updown) has no children', async t => {
  t.same(parseIkeSas({ up1: { state: 'CONNECTING' } })[0]?.children, [])
})

t.test('a child section key without `name` falls back to the key; non-numeric counters read as 0', async t => {
  t.match(parseIkeSas({ a: { 'child-sas': { net: { 'bytes-in': 'x' } } } })[0]?.children[0], { name: 'net', bytesIn: 0 })
})

t.test('a value where a section belongs is a protocol error', async t => {
  t.throws(() => parseIkeSas({ up1: 'x' }), { name: 'ViciProtocolError', message: /up1/ })
  t.throws(() => parseIkeSas({ up1: { 'child-sas': ['x'] } }), { name: 'ViciProtocolError', message: /up1.child-sas/ })
})
