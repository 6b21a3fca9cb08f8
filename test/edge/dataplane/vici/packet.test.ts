// Table tests of VICI packet framing against hand-built bytes (strongSwan vici README, "Transport protocol"
// and "Packet layer").
import t from 'tap'
import { decodePacket, encodePacket, FrameReader, MAX_FRAME_BYTES, type ViciPacket } from '../../../../edge/dataplane/vici/packet.js'

function bytes(...parts: Array<number | string>): Buffer {
  return Buffer.concat(parts.map(p => (typeof p === 'number' ? Buffer.from([p]) : Buffer.from(p, 'ascii'))))
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

const cases: Array<{ name: string; packet: ViciPacket; payload: Buffer }> = [
  { name: 'CMD_REQUEST version, empty message', packet: { type: 'cmd-request', name: 'version', message: {} }, payload: bytes(0, 7, 'version') },
  {
    name: 'CMD_REQUEST unload-conn with a key',
    packet: { type: 'cmd-request', name: 'unload-conn', message: { name: 'up1' } },
    payload: bytes(0, 11, 'unload-conn', 3, 4, 'name', 0, 3, 'up1'),
  },
  {
    name: 'CMD_RESPONSE success',
    packet: { type: 'cmd-response', message: { success: 'yes' } },
    payload: bytes(1, 3, 7, 'success', 0, 3, 'yes'),
  },
  { name: 'CMD_UNKNOWN', packet: { type: 'cmd-unknown' }, payload: bytes(2) },
  { name: 'EVENT_REGISTER', packet: { type: 'event-register', name: 'child-updown' }, payload: bytes(3, 12, 'child-updown') },
  { name: 'EVENT_UNREGISTER', packet: { type: 'event-unregister', name: 'list-sa' }, payload: bytes(4, 7, 'list-sa') },
  { name: 'EVENT_CONFIRM', packet: { type: 'event-confirm' }, payload: bytes(5) },
  { name: 'EVENT_UNKNOWN', packet: { type: 'event-unknown' }, payload: bytes(6) },
  {
    name: 'EVENT ike-updown',
    packet: { type: 'event', name: 'ike-updown', message: { up: 'yes', a: { state: 'ESTABLISHED' } } },
    payload: bytes(7, 10, 'ike-updown', 3, 2, 'up', 0, 3, 'yes', 1, 1, 'a', 3, 5, 'state', 0, 11, 'ESTABLISHED', 2),
  },
]

for (const c of cases) {
  t.test(`packet round trip: ${c.name}`, async t => {
    t.same(encodePacket(c.packet), Buffer.concat([u32(c.payload.length), c.payload]), 'u32 BE length, then payload')
    t.same(decodePacket(c.payload), c.packet)
  })
}

const failures: Array<{ name: string; payload: Buffer; kind: string; offset: number }> = [
  { name: 'empty frame', payload: bytes(), kind: 'truncated', offset: 0 },
  { name: 'packet type 8', payload: bytes(8), kind: 'bad-packet-type', offset: 0 },
  { name: 'named packet without name length', payload: bytes(7), kind: 'truncated', offset: 1 },
  { name: 'name runs past the end', payload: bytes(0, 9, 'vers'), kind: 'truncated', offset: 1 },
  { name: 'EVENT_CONFIRM with trailing bytes', payload: bytes(5, 1), kind: 'length-overflow', offset: 1 },
  { name: 'EVENT_REGISTER with trailing bytes', payload: bytes(3, 1, 'x', 0), kind: 'length-overflow', offset: 3 },
  // offsets inside the message count from the start of the payload: 1 type + 1 len + 7 name = 9
  { name: 'bad element in an event message', payload: bytes(7, 7, 'list-sa', 9), kind: 'bad-element-type', offset: 9 },
  { name: 'unclosed section in a response', payload: bytes(1, 1, 1, 's'), kind: 'nesting', offset: 4 },
]
for (const c of failures) {
  t.test(`decodePacket rejects ${c.name}`, async t => {
    t.throws(() => decodePacket(c.payload), { name: 'ViciCodecError', kind: c.kind, offset: c.offset })
  })
}

t.test('encodePacket rejects a packet name over 255 bytes and a frame over 512 KiB', async t => {
  t.throws(() => encodePacket({ type: 'event-register', name: 'x'.repeat(256) }), { name: 'ViciCodecError', kind: 'length-overflow' })
  const big: Record<string, string> = {}
  for (let i = 0; i < 10; i++) big[`k${i}`] = 'v'.repeat(60000)
  t.throws(() => encodePacket({ type: 'cmd-request', name: 'load-conn', message: big }), { name: 'ViciCodecError', kind: 'length-overflow', offset: 0 })
})

t.test('FrameReader reassembles frames split and joined across chunks', async t => {
  const a = encodePacket({ type: 'event-confirm' })
  const b = encodePacket({ type: 'cmd-response', message: { success: 'yes' } })
  const stream = Buffer.concat([a, b, a])
  for (let split = 0; split <= stream.length; split++) {
    const reader = new FrameReader()
    const frames = [...reader.push(stream.subarray(0, split)), ...reader.push(stream.subarray(split))]
    t.same(frames.map(decodePacket).map(p => p.type), ['event-confirm', 'cmd-response', 'event-confirm'], `split at ${split}`)
    t.equal(reader.bufferedBytes, 0)
  }
  const reader = new FrameReader()
  for (const byte of stream) reader.push(Buffer.from([byte]))
  t.equal(reader.bufferedBytes, 0, 'byte by byte leaves nothing behind')
})

t.test('FrameReader keeps a partial frame and reports an oversized length with its stream offset', async t => {
  const reader = new FrameReader()
  t.same(reader.push(Buffer.concat([u32(1), bytes(5), u32(3), bytes(1)])), [bytes(5)])
  t.equal(reader.bufferedBytes, 5)
  const bad = new FrameReader()
  bad.push(Buffer.concat([u32(1), bytes(5)]))
  t.throws(() => bad.push(u32(MAX_FRAME_BYTES + 1)), { name: 'ViciCodecError', kind: 'length-overflow', offset: 5 })
})
