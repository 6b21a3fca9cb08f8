// Table tests of the VICI message codec against byte layouts written out by hand from strongSwan's
// src/libcharon/plugins/vici/README.md ("Encoding example" and the element rules around it).
import t from 'tap'
import { ViciCodecError } from '../../../../edge/dataplane/vici/errors.js'
import { decodeMessage, encodeMessage, type ViciMessage, type ViciMessageInput } from '../../../../edge/dataplane/vici/message.js'

/** Builds bytes from numbers and ASCII strings, like the README's C array. */
function bytes(...parts: Array<number | string>): Buffer {
  return Buffer.concat(parts.map(p => (typeof p === 'number' ? Buffer.from([p]) : Buffer.from(p, 'ascii'))))
}

const readmeExample = bytes(
  3, 4, 'key1', 0, 6, 'value1',
  1, 8, 'section1',
  1, 11, 'sub-section',
  3, 4, 'key2', 0, 6, 'value2',
  2,
  4, 5, 'list1',
  5, 0, 5, 'item1',
  5, 0, 5, 'item2',
  6,
  2,
)

const roundTrips: Array<{ name: string; message: ViciMessage; wire: Buffer }> = [
  { name: 'empty message', message: {}, wire: bytes() },
  {
    name: 'the README encoding example',
    message: { key1: 'value1', section1: { 'sub-section': { key2: 'value2' }, list1: ['item1', 'item2'] } },
    wire: readmeExample,
  },
  { name: 'empty value', message: { k: '' }, wire: bytes(3, 1, 'k', 0, 0) },
  { name: 'empty list', message: { l: [] }, wire: bytes(4, 1, 'l', 6) },
  { name: 'empty section', message: { s: {} }, wire: bytes(1, 1, 's', 2) },
  { name: 'UTF-8 value', message: { id: 'é' }, wire: bytes(3, 2, 'id', 0, 2, 0xc3, 0xa9) },
  {
    name: 'value of 256 bytes uses both u16 length bytes',
    message: { v: 'x'.repeat(256) },
    wire: Buffer.concat([bytes(3, 1, 'v', 1, 0), Buffer.alloc(256, 'x')]),
  },
  {
    name: 'key named __proto__ stays plain data',
    message: JSON.parse('{"__proto__":"x"}') as ViciMessage,
    wire: bytes(3, 9, '__proto__', 0, 1, 'x'),
  },
]

for (const c of roundTrips) {
  t.test(`round trip: ${c.name}`, async t => {
    t.same(encodeMessage(c.message), c.wire, 'encodes to the hand-built bytes')
    const decoded = decodeMessage(c.wire)
    t.same(decoded, c.message, 'decodes to the tree')
    t.same(Object.keys(decoded), Object.keys(c.message), 'keeps key order')
  })
}

t.test('encoding converts numbers, booleans, raw bytes; leaves out undefined', async t => {
  const input: ViciMessageInput = { n: 4500, yes: true, no: false, raw: new Uint8Array([0, 255]), skip: undefined }
  t.same(
    encodeMessage(input),
    bytes(3, 1, 'n', 0, 4, '4500', 3, 3, 'yes', 0, 3, 'yes', 3, 2, 'no', 0, 2, 'no', 3, 3, 'raw', 0, 2, 0, 255),
  )
})

const encodeFailures: Array<{ name: string; input: ViciMessageInput; kind: string; offset: number }> = [
  { name: 'name of 256 bytes', input: { ['k'.repeat(256)]: 'v' }, kind: 'length-overflow', offset: 0 },
  { name: 'value of 65536 bytes', input: { a: 'b', k: 'v'.repeat(65536) }, kind: 'length-overflow', offset: 9 },
  { name: 'list item of 65536 bytes', input: { l: ['x'.repeat(65536)] }, kind: 'length-overflow', offset: 4 },
]
for (const c of encodeFailures) {
  t.test(`encode rejects ${c.name}`, async t => {
    t.throws(() => encodeMessage(c.input), { name: 'ViciCodecError', kind: c.kind, offset: c.offset })
  })
}

const decodeFailures: Array<{ name: string; wire: Buffer; kind: string; offset: number; says: RegExp }> = [
  { name: 'unknown element type 0', wire: bytes(0), kind: 'bad-element-type', offset: 0, says: /type 0/ },
  { name: 'unknown element type 7 after a key', wire: bytes(3, 1, 'k', 0, 0, 7), kind: 'bad-element-type', offset: 5, says: /type 7/ },
  { name: 'name length byte missing', wire: bytes(3), kind: 'truncated', offset: 1, says: /name length/ },
  { name: 'name runs past the end', wire: bytes(1, 5, 'ab'), kind: 'truncated', offset: 1, says: /5 bytes/ },
  { name: 'value length cut after one byte', wire: bytes(3, 1, 'k', 0), kind: 'truncated', offset: 3, says: /u16/ },
  { name: 'value runs past the end', wire: bytes(3, 1, 'k', 0, 9, 'abc'), kind: 'truncated', offset: 3, says: /9 bytes/ },
  { name: 'list item value runs past the end', wire: bytes(4, 1, 'l', 5, 0, 2, 'a'), kind: 'truncated', offset: 4, says: /2 bytes/ },
  { name: 'SECTION_END at the root', wire: bytes(2), kind: 'nesting', offset: 0, says: /without an open section/ },
  { name: 'section never closed', wire: bytes(1, 1, 's', 3, 1, 'k', 0, 0), kind: 'nesting', offset: 8, says: /never closed/ },
  { name: 'list never closed', wire: bytes(3, 1, 'a', 0, 0, 4, 1, 'l'), kind: 'nesting', offset: 8, says: /opened at byte 5/ },
  { name: 'LIST_ITEM outside a list', wire: bytes(5, 0, 0), kind: 'nesting', offset: 0, says: /outside a list/ },
  { name: 'LIST_END without a list', wire: bytes(6), kind: 'nesting', offset: 0, says: /without an open list/ },
  { name: 'list nested in a list', wire: bytes(4, 1, 'l', 4, 1, 'm', 6, 6), kind: 'nesting', offset: 3, says: /inside list "l"/ },
  { name: 'key-value inside a list', wire: bytes(4, 1, 'l', 3, 1, 'k', 0, 0, 6), kind: 'nesting', offset: 3, says: /inside list/ },
  { name: 'section inside a list', wire: bytes(4, 1, 'l', 1, 1, 's', 2, 6), kind: 'nesting', offset: 3, says: /inside list/ },
  { name: 'SECTION_END inside a list', wire: bytes(1, 1, 's', 4, 1, 'l', 2, 6, 2), kind: 'nesting', offset: 6, says: /inside list/ },
  { name: 'duplicate key', wire: bytes(3, 1, 'k', 0, 0, 3, 1, 'k', 0, 0), kind: 'duplicate-key', offset: 5, says: /"k"/ },
]
for (const c of decodeFailures) {
  t.test(`decode rejects ${c.name}`, async t => {
    const err = t.throws(() => decodeMessage(c.wire), { name: 'ViciCodecError', kind: c.kind, offset: c.offset }) as unknown
    t.ok(err instanceof ViciCodecError, 'is a ViciCodecError')
    t.match((err as Error).message, c.says)
    t.match((err as Error).message, new RegExp(`at byte ${c.offset}`), 'message names the offset')
  })
}

t.test('decode offsets are shifted by the enclosing frame position', async t => {
  t.throws(() => decodeMessage(bytes(9), 12), { name: 'ViciCodecError', kind: 'bad-element-type', offset: 12 })
})
