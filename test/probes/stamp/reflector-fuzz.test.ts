// The reflector survives garbage: 1,000,000 malformed datagrams through the pure decision (no throw, no
// reply to any of them, never a reply longer than its request), then a real-socket sample against the
// reflector shell on loopback. "Malformed" = anything that is not a test packet this reflector may answer:
// too short for the mode, too short to answer without amplifying, or (authenticated) a wrong HMAC —
// random bytes, truncations and bit-flips of valid packets.
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import t from 'tap'
import { encodeSenderPacket, decodeReflectorPacket } from '../../../probes/stamp/packet.js'
import { reflect, type ReflectorConfig } from '../../../probes/stamp/reflector.js'
import { SourceRateLimiter } from '../../../probes/stamp/rate-limit.js'
import { startReflector } from '../../../probes/stamp/reflector-server.js'

const KEY = Buffer.alloc(32, 0x33)
const AUTH: ReflectorConfig = { senderTtl: 255, authKey: KEY }
const UNAUTH: ReflectorConfig = { senderTtl: 255 }

/** Small deterministic PRNG (xorshift32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

function malformed(next: () => number, pool: Buffer): { payload: Buffer; config: ReflectorConfig } {
  const kind = next() % 4
  if (kind === 0) {
    // Random length 0..40 to the unauthenticated reflector: too short, or would amplify.
    const len = next() % 41
    return { payload: Buffer.from(pool.subarray(next() % 1000, (next() % 1000) + len)).subarray(0, len), config: UNAUTH }
  }
  if (kind === 1) {
    // Random 0..400 octets to the authenticated reflector.
    const len = next() % 401
    const start = next() % 600
    return { payload: pool.subarray(start, start + len), config: AUTH }
  }
  const valid = encodeSenderPacket({ sequence: next(), timestamp: BigInt(next()) << 32n, errorEstimate: 0x1601, ssid: 0 }, { key: KEY })
  if (kind === 2) {
    // A valid authenticated packet with one bit flipped somewhere in the HMAC-covered part or the HMAC.
    const bit = next() % (112 * 8)
    valid[bit >> 3]! ^= 1 << (bit & 7)
    return { payload: valid, config: AUTH }
  }
  // A valid authenticated packet truncated.
  return { payload: valid.subarray(0, next() % 112), config: AUTH }
}

t.test('1,000,000 malformed datagrams through the pure reflector', async t => {
  const next = rng(0xc0ffee)
  const pool = Buffer.alloc(1100)
  for (let i = 0; i < pool.length; i++) pool[i] = next() & 0xff
  const limiter = new SourceRateLimiter({ ratePerSecond: 1e9, burst: 1e9, maxSources: 1024 })
  const drops: Record<string, number> = {}
  let replies = 0
  let thrown = 0
  for (let i = 0; i < 1_000_000; i++) {
    const { payload, config } = malformed(next, pool)
    try {
      const out = reflect({ payload, source: `198.51.100.${i & 255}`, receivedAt: 1n, nowMs: i }, config, limiter, () => 2n)
      if (out.kind === 'reply') replies++
      else drops[out.reason] = (drops[out.reason] ?? 0) + 1
    } catch {
      thrown++
    }
  }
  t.equal(thrown, 0, 'nothing threw')
  t.equal(replies, 0, 'no malformed datagram got a reply')
  t.equal(Object.values(drops).reduce((a, b) => a + b, 0), 1_000_000, `all dropped: ${JSON.stringify(drops)}`)
})

t.test('random well-sized datagrams to the unauthenticated reflector are answered at their own size', async t => {
  const next = rng(42)
  const limiter = new SourceRateLimiter({ ratePerSecond: 1e9, burst: 1e9, maxSources: 16 })
  let bigger = 0
  for (let i = 0; i < 100_000; i++) {
    const payload = Buffer.alloc(41 + (next() % 1000))
    for (let j = 0; j < payload.length; j += 4) payload.writeUInt32LE(next(), j - (j + 4 > payload.length ? j + 4 - payload.length : 0))
    const out = reflect({ payload, source: '203.0.113.9', receivedAt: 1n, nowMs: 0 }, UNAUTH, limiter, () => 2n)
    if (out.kind !== 'reply' || out.reply.length !== payload.length) bigger++
  }
  t.equal(bigger, 0, 'every reply is exactly as long as its request')
})

t.test('real sockets: the reflector shell takes 20,000 malformed datagrams and still answers valid ones', async t => {
  const server = await startReflector({
    address: '127.0.0.1', port: 0, authKey: KEY, rateLimit: { ratePerSecond: 1e9, burst: 1e9, maxSources: 16 },
  })
  t.teardown(() => server.close())
  const client = createSocket('udp4')
  t.teardown(() => client.close())
  await new Promise<void>(resolve => client.bind(0, '127.0.0.1', resolve))
  const replies: Buffer[] = []
  client.on('message', msg => replies.push(msg))
  const next = rng(7)
  const pool = Buffer.alloc(1100)
  for (let i = 0; i < pool.length; i++) pool[i] = next() & 0xff
  for (let i = 0; i < 20_000; i++) {
    const { payload } = malformed(next, pool)
    client.send(payload, server.port, '127.0.0.1')
    // Yield every 16 sends: the reflector shares this event loop and reads up to ~32 datagrams per turn,
    // so larger bursts would mostly test the kernel's receive-buffer overflow instead of the reflector.
    if (i % 16 === 0) await new Promise(resolve => setImmediate(resolve))
  }
  // A valid probe after the flood: once its reply is here, everything before it has been handled
  // (one socket pair over loopback keeps order). Resend until it gets through, in case the flood
  // overflowed the receive buffer.
  let marker: Buffer | undefined
  for (let attempt = 0; attempt < 50 && !marker; attempt++) {
    client.send(encodeSenderPacket({ sequence: 999_999, timestamp: 5n, errorEstimate: 0x1601, ssid: 0 }, { key: KEY }), server.port, '127.0.0.1')
    await Promise.race([once(client, 'message'), new Promise(resolve => setTimeout(resolve, 200))])
    marker = replies.find(r => decodeReflectorPacket(r, KEY).ok)
  }
  t.ok(marker, 'the valid probe after the flood was answered')
  t.ok(replies.every(r => { const d = decodeReflectorPacket(r, KEY); return d.ok && d.value.senderSequence === 999_999 }), 'and nothing else was')
  // Loopback may still drop some under load; the sample must be substantial, not complete.
  t.ok(server.counters.received >= 1000, `the reflector read ${server.counters.received} datagrams (20,000 malformed + the valid marker and its resends)`)
  t.equal(server.counters.replied, replies.length, 'replies counted = replies seen')
})
