// STAMP codecs against the byte layouts of RFC 8762 §4.2.1, §4.2.2, §4.3.1, §4.3.2 (SSID: RFC 8972 §3)
// and the shorter TWAMP-Light packets of RFC 5357 §4.1.2 / §4.2.1. Expected bytes are written out by
// hand from the RFC figures, field by field, so the codec is checked against the RFC and not itself.
import { createHmac } from 'node:crypto'
import t from 'tap'
import {
  decodeReflectorPacket, decodeSenderPacket, encodeReflectorPacket, encodeSenderPacket, type ReflectorPacket, type SenderPacket,
} from '../../../probes/stamp/packet.js'

const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex')
const zeros = (n: number): string => '00'.repeat(n)
const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex')
const hmac16 = (first96: Buffer): string => createHmac('sha256', KEY).update(first96).digest().subarray(0, 16).toString('hex')

const sender: SenderPacket = { sequence: 0x01020304, timestamp: 0x1122334455667788n, errorEstimate: 0x8a01, ssid: 0xbeef }
const reflector: ReflectorPacket = {
  sequence: 0x00000007,
  timestamp: 0xa1a2a3a4a5a6a7a8n,
  errorEstimate: 0x1601,
  ssid: 0xbeef,
  receiveTimestamp: 0xb1b2b3b4b5b6b7b8n,
  senderSequence: 0x00000007,
  senderTimestamp: 0x1122334455667788n,
  senderErrorEstimate: 0x8a01,
  senderTtl: 0x40,
}

t.test('Session-Sender, unauthenticated: 44 octets (RFC 8762 §4.2.1, SSID RFC 8972 §3)', async t => {
  const expected = hex('01020304', '1122334455667788', '8a01', 'beef', zeros(28))
  const got = encodeSenderPacket(sender)
  t.equal(got.toString('hex'), expected.toString('hex'))
  t.same(decodeSenderPacket(expected), { ok: true, value: sender })
})

t.test('Session-Sender, authenticated: 112 octets, HMAC over octets 0..95 (RFC 8762 §4.2.2, §4.4)', async t => {
  const first96 = hex('01020304', zeros(12), '1122334455667788', '8a01', zeros(70))
  t.equal(first96.length, 96)
  const expected = Buffer.concat([first96, hex(hmac16(first96))])
  const got = encodeSenderPacket(sender, { key: KEY })
  t.equal(got.toString('hex'), expected.toString('hex'))
  // No SSID in authenticated mode: it reads back as 0.
  t.same(decodeSenderPacket(expected, KEY), { ok: true, value: { ...sender, ssid: 0 } })
})

t.test('Session-Reflector, unauthenticated: 44 octets (RFC 8762 §4.3.1)', async t => {
  const expected = hex(
    '00000007', 'a1a2a3a4a5a6a7a8', '1601', 'beef', 'b1b2b3b4b5b6b7b8',
    '00000007', '1122334455667788', '8a01', '0000', '40', '000000',
  )
  t.equal(expected.length, 44)
  t.equal(encodeReflectorPacket(reflector).toString('hex'), expected.toString('hex'))
  t.same(decodeReflectorPacket(expected), { ok: true, value: reflector })
})

t.test('Session-Reflector, authenticated: 112 octets (RFC 8762 §4.3.2)', async t => {
  const first96 = hex(
    '00000007', zeros(12), 'a1a2a3a4a5a6a7a8', '1601', zeros(6), 'b1b2b3b4b5b6b7b8', zeros(8),
    '00000007', zeros(12), '1122334455667788', '8a01', zeros(6), '40', zeros(15),
  )
  t.equal(first96.length, 96)
  const expected = Buffer.concat([first96, hex(hmac16(first96))])
  t.equal(encodeReflectorPacket(reflector, { key: KEY }).toString('hex'), expected.toString('hex'))
  t.same(decodeReflectorPacket(expected, KEY), { ok: true, value: { ...reflector, ssid: 0 } })
})

t.test('TWAMP-Light (RFC 5357 §4.1.2, §4.2.1): shorter packets read with absent octets as zero', async t => {
  const light14 = hex('00000009', '1122334455667788', '8001')
  t.same(decodeSenderPacket(light14), { ok: true, value: { sequence: 9, timestamp: 0x1122334455667788n, errorEstimate: 0x8001, ssid: 0 } })
  const light41 = hex('00000009', 'a1a2a3a4a5a6a7a8', '8001', '0000', 'b1b2b3b4b5b6b7b8', '00000009', '1122334455667788', '8001', '0000', 'ff')
  t.equal(light41.length, 41)
  const r = decodeReflectorPacket(light41)
  t.ok(r.ok && r.value.senderSequence === 9 && r.value.senderTtl === 255 && r.value.receiveTimestamp === 0xb1b2b3b4b5b6b7b8n)
  t.equal(encodeReflectorPacket({ ...reflector, ssid: 0 }, { length: 41 }).length, 41, 'we can answer at 41 octets')
  t.equal(encodeSenderPacket(sender, { length: 14 }).toString('hex'), '010203041122334455667788' + '8a01', 'and send 14')
})

t.test('padding: octets past the base packet are zero and outside the HMAC', async t => {
  const padded = encodeSenderPacket(sender, { length: 100 })
  t.equal(padded.length, 100)
  t.equal(padded.subarray(44).toString('hex'), zeros(56))
  const auth = encodeSenderPacket(sender, { key: KEY, length: 200 })
  t.equal(auth.length, 200)
  t.ok(decodeSenderPacket(auth, KEY).ok)
})

t.test('decode failures say why', async t => {
  const cases: [string, Buffer, Buffer | undefined, 'reflector' | 'sender', string][] = [
    ['sender shorter than TWAMP-Light 14', Buffer.alloc(13), undefined, 'sender', 'too-short'],
    ['authenticated sender shorter than 112', Buffer.alloc(111), KEY, 'sender', 'too-short'],
    ['reflector shorter than 41', Buffer.alloc(40), undefined, 'reflector', 'too-short'],
    ['sender with a wrong HMAC', encodeSenderPacket(sender, { key: Buffer.alloc(32, 7) }), KEY, 'sender', 'bad-hmac'],
    ['reflector with a wrong HMAC', encodeReflectorPacket(reflector, { key: Buffer.alloc(32, 7) }), KEY, 'reflector', 'bad-hmac'],
  ]
  for (const [name, buf, key, kind, reason] of cases) {
    const r = kind === 'sender' ? decodeSenderPacket(buf, key) : decodeReflectorPacket(buf, key)
    t.equal(r.ok ? 'ok' : r.reason, reason, name)
  }
  const flipped = encodeSenderPacket(sender, { key: KEY })
  flipped[5]! ^= 1
  t.equal(decodeSenderPacket(flipped, KEY).ok, false, 'one flipped bit in an MBZ octet breaks the HMAC')
})

t.test('encoders refuse values that do not fit', async t => {
  t.throws(() => encodeSenderPacket({ ...sender, sequence: 2 ** 32 }), /not a u32/)
  t.throws(() => encodeSenderPacket({ ...sender, ssid: 70000 }), /not a u16/)
  t.throws(() => encodeSenderPacket(sender, { length: 13 }), /outside 14\.\.1472/)
  t.throws(() => encodeSenderPacket(sender, { key: KEY, length: 44 }), /outside 112\.\.1472/)
  t.throws(() => encodeReflectorPacket(reflector, { length: 40 }), /outside 41\.\.1472/)
  t.throws(() => encodeReflectorPacket({ ...reflector, senderTtl: 256 }), /not a u8/)
})
