// The pure reflector decision (RFC 8762 §4.3) and its per-source rate limit, by table.
import t from 'tap'
import { decodeReflectorPacket, encodeSenderPacket } from '../../../probes/stamp/packet.js'
import { reflect, type ReflectorConfig } from '../../../probes/stamp/reflector.js'
import { SourceRateLimiter } from '../../../probes/stamp/rate-limit.js'

const KEY = Buffer.alloc(32, 0x5a)
const UNAUTH: ReflectorConfig = { senderTtl: 255 }
const AUTH: ReflectorConfig = { senderTtl: 255, authKey: KEY }
const T2 = 0x83aa7e80_00000001n
const T3 = 0x83aa7e80_00000002n
const probe = { sequence: 77, timestamp: 0x83aa7e00_12345678n, errorEstimate: 0x1601, ssid: 0x0102 }
const generous = (): SourceRateLimiter => new SourceRateLimiter({ ratePerSecond: 1e6, burst: 1e6, maxSources: 10 })
const run = (payload: Buffer, config: ReflectorConfig, limiter = generous()) =>
  reflect({ payload, source: '192.0.2.1', receivedAt: T2, nowMs: 0 }, config, limiter, () => T3)

t.test('what gets a reply, and how long it is', async t => {
  const cases: [string, Buffer, ReflectorConfig, string][] = [
    ['13 octets: shorter than any test packet', Buffer.alloc(13), UNAUTH, 'drop:too-short'],
    ['14-octet TWAMP-Light minimum: a reply would be longer', encodeSenderPacket(probe, { length: 14 }), UNAUTH, 'drop:would-amplify'],
    ['40 octets: still would amplify', encodeSenderPacket(probe, { length: 40 }), UNAUTH, 'drop:would-amplify'],
    ['41 octets (TWAMP-Light, padded): 41-octet reply', encodeSenderPacket(probe, { length: 41 }), UNAUTH, 'reply:41'],
    ['44 octets (STAMP base): 44-octet reply', encodeSenderPacket(probe), UNAUTH, 'reply:44'],
    ['300 octets (padded): 300-octet reply', encodeSenderPacket(probe, { length: 300 }), UNAUTH, 'reply:300'],
    ['unauthenticated packet to an authenticated reflector', encodeSenderPacket(probe), AUTH, 'drop:too-short'],
    ['authenticated, right key', encodeSenderPacket(probe, { key: KEY }), AUTH, 'reply:112'],
    ['authenticated, wrong key', encodeSenderPacket(probe, { key: Buffer.alloc(32, 1) }), AUTH, 'drop:bad-hmac'],
    ['authenticated, padded to 150', encodeSenderPacket(probe, { key: KEY, length: 150 }), AUTH, 'reply:150'],
  ]
  for (const [name, payload, config, want] of cases) {
    const out = run(payload, config)
    t.equal(out.kind === 'reply' ? `reply:${out.reply.length}` : `drop:${out.reason}`, want, name)
    if (out.kind === 'reply') t.ok(out.reply.length <= payload.length, `${name}: never amplifies`)
  }
})

t.test('the reply carries T2, T3 and the sender fields; stateless sequence; SSID copied', async t => {
  const out = run(encodeSenderPacket(probe), UNAUTH)
  t.equal(out.kind, 'reply')
  if (out.kind !== 'reply') return
  const r = decodeReflectorPacket(out.reply)
  t.ok(r.ok)
  if (!r.ok) return
  t.same(r.value, {
    sequence: 77, timestamp: T3, errorEstimate: 0x1601, ssid: 0x0102, receiveTimestamp: T2,
    senderSequence: 77, senderTimestamp: probe.timestamp, senderErrorEstimate: 0x1601, senderTtl: 255,
  })
  const padded = run(encodeSenderPacket(probe, { length: 80 }), UNAUTH)
  if (padded.kind === 'reply') t.equal(padded.reply.subarray(44).toString('hex'), '00'.repeat(36), 'padding returns as zeros')
  const auth = run(encodeSenderPacket(probe, { key: KEY }), AUTH)
  if (auth.kind === 'reply') t.ok(decodeReflectorPacket(auth.reply, KEY).ok, 'authenticated reply verifies with the key')
})

t.test('per-source rate limit: burst, refill, other sources unaffected, bounded table', async t => {
  const limiter = new SourceRateLimiter({ ratePerSecond: 10, burst: 3, maxSources: 2 })
  const got = [0, 0, 0, 0].map(() => limiter.allow('a', 0))
  t.same(got, [true, true, true, false], 'burst of 3, then refused')
  t.equal(limiter.allow('b', 0), true, 'another source has its own bucket')
  t.equal(limiter.allow('a', 50), false, 'half a token after 50 ms at 10/s')
  t.equal(limiter.allow('a', 100), true, 'one token after 100 ms')
  limiter.allow('c', 100)
  t.equal(limiter.trackedSources, 2, 'the least recently seen source was forgotten')
  t.throws(() => new SourceRateLimiter({ ratePerSecond: 0, burst: 1, maxSources: 1 }), /ratePerSecond > 0/)

  const strict = new SourceRateLimiter({ ratePerSecond: 1, burst: 1, maxSources: 10 })
  const packet = encodeSenderPacket(probe)
  t.equal(run(packet, UNAUTH, strict).kind, 'reply')
  const second = run(packet, UNAUTH, strict)
  t.equal(second.kind === 'drop' && second.reason, 'rate-limited')
  const short = run(Buffer.alloc(20), UNAUTH, strict)
  t.equal(short.kind === 'drop' && short.reason, 'would-amplify', 'malformed packets are dropped before they cost a token')
})
