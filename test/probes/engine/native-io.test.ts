// The real probe I/O thread (native/probe_io.c through native-io.ts) with real UDP sockets on loopback:
// on its own (due times, kernel receive timestamps, send errors, closing, stopping, errors that name the
// step), then the whole engine against the real `sdwan-edge reflect` in its own process, showing that
// sending and timestamping go on while the main thread is blocked (the reason they live off it).
import t from 'tap'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { ProbeEngine } from '../../../probes/engine/engine.js'
import type { ProbeEvent } from '../../../probes/engine/events.js'
import { nativeProbeIo } from '../../../probes/engine/native-io.js'
import type { IoRecord } from '../../../probes/engine/prober.js'
import { monotonicMs } from '../../../probes/clock.js'
import { freeUdpPort, startReflectorProcess } from '../helpers/reflector-process.js'

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const nowNs = () => process.hrtime.bigint()

/** Drains until `enough` says the records so far suffice (or 5 s pass). */
async function drainUntil(io: ReturnType<typeof nativeProbeIo>, enough: (records: IoRecord[]) => boolean): Promise<IoRecord[]> {
  const records: IoRecord[] = []
  const until = Date.now() + 5000
  while (!enough(records) && Date.now() < until) {
    await sleep(10)
    records.push(...io.drain().records)
  }
  return records
}

t.test('I/O thread: sends when due, never early; replies carry the kernel receive time', async t => {
  const echo = createSocket('udp4')
  echo.on('message', (msg, from) => echo.send(Buffer.concat([Buffer.from('re:'), msg]), from.port, from.address))
  echo.bind(0, '127.0.0.1')
  await once(echo, 'listening')
  t.teardown(() => echo.close())
  const io = nativeProbeIo(null)
  t.teardown(() => io.stop())
  const channel = io.open('127.0.0.1', '127.0.0.1', echo.address().port)
  const due = nowNs() + 30_000_000n
  t.equal(io.queue(channel, due + 20_000_000n, 8, Buffer.from('second')), true)
  t.equal(io.queue(channel, due, 7, Buffer.from('first')), true, 'a packet due earlier than the one queued wakes the thread')
  const records = await drainUntil(io, rs => rs.filter(r => r.kind === 'reply').length === 2)
  const sent = records.filter(r => r.kind === 'sent')
  const replies = records.filter(r => r.kind === 'reply')
  t.same(sent.map(r => r.seq), [7, 8], 'in due order, whatever the order queued')
  t.ok(sent.every(r => r.ns >= due), 'nothing leaves before it is due')
  t.same(replies.map(r => r.payload.toString()), ['re:first', 're:second'])
  t.ok(replies[0]!.ns > sent[0]!.ns, 'T4 (the kernel receive time) after T1')
  t.ok(replies.every(r => r.ns <= nowNs()), 'receive times are on the monotonic clock, in the past')
  t.same(
    records.map(r => r.channel),
    records.map(() => channel),
  )
})

t.test('I/O thread: only the reflector answers; a refused port does not stop sending; close drops what is queued', async t => {
  const port = await freeUdpPort()
  const io = nativeProbeIo(null)
  t.teardown(() => io.stop())
  const refused = io.open('127.0.0.1', '127.0.0.1', port)
  const now = nowNs()
  // Each datagram draws an ICMP port unreachable; the probes are lost, which the window counts when they time out.
  for (let seq = 1; seq <= 3; seq++) io.queue(refused, now + BigInt(seq) * 10_000_000n, seq, Buffer.from('a'))
  const records = await drainUntil(io, rs => rs.length >= 3)
  t.match(records, [{ kind: 'sent', seq: 1 }, { kind: 'sent', seq: 2 }, { kind: 'sent', seq: 3 }])

  // A stranger sends to the probe socket's port, three times: not a reply, but one stray record per
  // drain that counts them and names the latest sender.
  const stranger = createSocket('udp4')
  t.teardown(() => stranger.close())
  stranger.bind(0, '127.0.0.2')
  await once(stranger, 'listening')
  const echo = createSocket('udp4')
  t.teardown(() => echo.close())
  echo.on('message', (msg, from) => {
    for (let i = 0; i < 3; i++) stranger.send(Buffer.from('not the reflector'), from.port, from.address)
    setTimeout(() => echo.send(msg, from.port, from.address), 20)
  })
  echo.bind(0, '127.0.0.1')
  await once(echo, 'listening')
  const probed = io.open('127.0.0.1', '127.0.0.1', echo.address().port)
  io.queue(probed, nowNs(), 9, Buffer.from('probe'))
  const answered = await drainUntil(io, rs => rs.some(r => r.kind === 'reply'))
  await sleep(50)
  answered.push(...io.drain().records)
  t.same(answered.filter(r => r.kind === 'reply').map(r => r.kind === 'reply' && r.payload.toString()), ['probe'], "the reflector's reply only")
  const strays = answered.filter(r => r.kind === 'stray')
  t.same(strays.map(r => r.kind === 'stray' && [r.channel, r.from, r.count]), [[probed, `127.0.0.2:${stranger.address().port}`, 3]])

  const closing = io.open('127.0.0.1', '127.0.0.1', port)
  t.equal(io.queue(closing, nowNs() + 50_000_000n, 3, Buffer.from('c')), true)
  io.close(closing)
  t.equal(io.queue(closing, nowNs(), 4, Buffer.from('d')), false, 'a closed channel takes no packets')
  await sleep(100)
  t.same(io.drain().records, [], 'nothing queued on a closed channel is sent')
})

t.test('I/O thread: errors name the step; a stopped thread refuses use', async t => {
  const io = nativeProbeIo(null)
  t.throws(() => io.open('192.0.2.77', '192.0.2.1', 862), /^bind 192\.0\.2\.77: Cannot assign requested address \(EADDRNOTAVAIL\)$/)
  t.throws(() => io.open('127.0.0.1', '::1', 862), /local and remote must be IP addresses of one family/)
  t.throws(() => io.queue(io.open('127.0.0.1', '127.0.0.1', 9), nowNs(), 1, Buffer.alloc(0)), /packet length must be 1\.\.2048/)
  io.stop()
  io.stop()
  t.throws(() => io.drain(), /the I\/O thread has been stopped/)
})

t.test('engine against a reflector process; main thread blocked meanwhile', async t => {
  const port = await freeUdpPort()
  const reflector = await startReflectorProcess(['--address', '127.0.0.1', '--port', String(port)])
  t.teardown(() => reflector.stop())
  const engine = ProbeEngine.start(
    [{ pathId: 'lo', localAddress: '127.0.0.1', remoteAddress: '127.0.0.1', port, intervalMs: 10, timeoutMs: 10_000 }],
    { windowSize: 500, snapshotIntervalMs: 50 },
  )
  t.teardown(() => engine.stop())
  const events: ProbeEvent[] = []
  engine.on('probe', e => events.push(e))
  const replies = (): number => events.filter(e => e.kind === 'reply').length
  while (replies() < 5) await new Promise(resolve => setTimeout(resolve, 20))

  // Block the main thread. If probing ran here, no probe could be sent or answered in this interval.
  const blockStart = monotonicMs()
  while (monotonicMs() - blockStart < 400) {
    // busy: stands in for a long policy compile or a netlink dump on the daemon's main thread
  }
  const blockEnd = monotonicMs()
  const before = replies()
  while (replies() < before + 5) await new Promise(resolve => setTimeout(resolve, 20))

  // Event times are the I/O thread's, on the shared monotonic clock, so they can be compared with the main
  // thread's block interval.
  const during = events.filter(e => e.kind === 'reply' && e.at > blockStart && e.at < blockEnd)
  t.ok(during.length > 0, `${during.length} replies were received by the I/O thread while the main thread was blocked`)
  const snapshot = engine.latest('lo')
  t.ok(snapshot && snapshot.received > 0 && snapshot.rtt !== null, 'periodic PathMetrics arrive on the main thread')
  await engine.stop()
  const out = await reflector.stop()
  t.equal(out.code, 0, 'the reflector exits 0 on SIGTERM')
  t.match(out.stdout, /reflector stopped: \{"received":\d+,"replied":\d+/, 'and prints its counters')
})
