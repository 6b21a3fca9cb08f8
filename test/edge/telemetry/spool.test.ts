// The on-disk spool: production order across metrics and events, the bound (oldest metrics first,
// never events, refusal when events alone fill it), the delivered cursor, and replay after a crash that
// tore the last append.
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Spool, type RecordClass } from '../../../edge/telemetry/spool/spool.js'
import { nodeSpoolFs } from '../../../edge/telemetry/spool/spool-fs.js'

async function freshDir(t: Test): Promise<string> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-spool-test-'))
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }))
  return dir
}

const open = (dir: string, maxBytes = 1 << 20, segmentBytes?: number) =>
  Spool.open({ dir, maxBytes, fs: nodeSpoolFs, now: () => 0, ...(segmentBytes ? { segmentBytes } : {}) })

async function drain(spool: Spool): Promise<string[]> {
  const out: string[] = []
  for (;;) {
    const batch = await spool.peek(7)
    if (batch.length === 0) return out
    out.push(...batch.map(r => r.payload))
    await spool.ack(batch[batch.length - 1]!.seq)
  }
}

t.test('records come back in production order across metrics and events, across reopen', async t => {
  const dir = await freshDir(t)
  const spool = await open(dir, 1 << 20, 256)
  const produced: string[] = []
  for (let i = 0; i < 200; i++) {
    const cls: RecordClass = i % 5 === 0 ? 'event' : 'metric'
    const payload = `${cls}-${i}`
    produced.push(payload)
    t.equal(await spool.append(cls, `p/s/d/${cls}`, payload), 'stored')
  }
  t.equal(spool.pending, 200)
  const first = await spool.peek(50)
  t.same(first.map(r => r.payload), produced.slice(0, 50), 'peek is in order and does not remove')
  t.same((await spool.peek(50)).map(r => r.payload), produced.slice(0, 50))
  await spool.ack(first[29]!.seq)
  await spool.close()
  const reopened = await open(dir, 1 << 20, 256)
  t.equal(reopened.pending, 170, 'the delivered cursor survives a restart')
  t.same(await drain(reopened), produced.slice(30))
  t.equal(reopened.pending, 0)
  const later = await reopened.append('metric', 'p/s/d/m', 'after')
  t.equal(later, 'stored')
  t.same(await drain(reopened), ['after'])
  await reopened.close()
  const segments = [...(await fsp.readdir(join(dir, 'metrics'))), ...(await fsp.readdir(join(dir, 'events')))]
  t.same(segments, [], 'delivered segments are deleted')
})

t.test('the bound drops the oldest metrics first and never events', async t => {
  const dir = await freshDir(t)
  // Frames here are 8 + 11 + 5 + 7..9 bytes ≈ 32; segments of 128 bytes hold 4 records.
  const spool = await open(dir, 1024, 128)
  const events: string[] = []
  for (let i = 0; i < 300; i++) {
    const isEvent = i % 10 === 0
    const payload = `${isEvent ? 'e' : 'm'}${String(i).padStart(4, '0')}`
    const outcome = await spool.append(isEvent ? 'event' : 'metric', 'a/b/c', payload)
    t.equal(outcome, 'stored', `record ${i} stored while metrics remain to drop`)
    if (isEvent) events.push(payload)
    t.ok(spool.stats.bytes <= 1024, 'never above the bound')
  }
  t.ok(spool.stats.metricsDropped > 0, 'metrics were dropped')
  const delivered = await drain(spool)
  t.same(delivered.filter(p => p.startsWith('e')), events, 'every event survived')
  const metrics = delivered.filter(p => p.startsWith('m'))
  t.same(metrics, [...metrics].sort(), 'surviving metrics are in order')
  t.equal(metrics[metrics.length - 1], 'm0299', 'the newest metrics survived')
  t.equal(delivered.length + spool.stats.metricsDropped, 300, 'every record is delivered or counted as dropped')
  await spool.close()
})

t.test('when events alone fill the bound, new records are refused and counted', async t => {
  const dir = await freshDir(t)
  const spool = await open(dir, 512, 128)
  let stored = 0
  for (let i = 0; i < 40; i++) if ((await spool.append('event', 'a/b/c', `event-${i}`)) === 'stored') stored++
  t.ok(stored < 40 && stored > 0)
  t.equal(spool.stats.refused, 40 - stored)
  t.equal(await spool.append('metric', 'a/b/c', 'metric'), 'refused', 'a metric has no room either')
  const delivered = await drain(spool)
  t.same(delivered, Array.from({ length: stored }, (_, i) => `event-${i}`), 'the oldest events are kept, the newest refused')
  t.equal(await spool.append('event', 'a/b/c', 'again'), 'stored', 'room again after delivery')
  await spool.close()
})

t.test('replay after a torn append keeps every whole record and cuts the tail', async t => {
  const dir = await freshDir(t)
  const spool = await open(dir)
  for (let i = 0; i < 10; i++) await spool.append('event', 'a/b/c', `e${i}`)
  for (let i = 0; i < 10; i++) await spool.append('metric', 'a/b/c', `m${i}`, true)
  await spool.close()
  for (const sub of ['events', 'metrics']) {
    const [segment] = await fsp.readdir(join(dir, sub))
    // A crash mid-append: a length prefix and part of a frame.
    await fsp.appendFile(join(dir, sub, segment!), Buffer.from([0, 0, 0, 40, 1, 2, 3, 4, 5]))
  }
  const reopened = await open(dir)
  t.equal(reopened.pending, 20)
  const all = await reopened.peek(100)
  t.same(all.map(r => r.payload), [...Array.from({ length: 10 }, (_, i) => `e${i}`), ...Array.from({ length: 10 }, (_, i) => `m${i}`)])
  t.ok(all.filter(r => r.recordClass === 'metric').every(r => r.retain), 'the retain flag is kept')
  await reopened.append('metric', 'a/b/c', 'after-crash')
  t.equal((await drain(reopened)).at(-1), 'after-crash', 'appends after the cut tail are readable')
  await reopened.close()
})

t.test('acknowledging by seq is right even when the bound dropped part of the acknowledged window', async t => {
  const dir = await freshDir(t)
  const spool = await open(dir, 1024, 128)
  for (let i = 0; i < 20; i++) await spool.append('metric', 'a/b/c', `m${String(i).padStart(4, '0')}`)
  const window = await spool.peek(10)
  // While the window is on the wire, new metrics push the oldest segments out.
  for (let i = 20; i < 40; i++) await spool.append('metric', 'a/b/c', `m${String(i).padStart(4, '0')}`)
  t.ok(spool.stats.metricsDropped > 0, 'part of the window was dropped')
  const lastSent = window[window.length - 1]!.seq
  const present = (await spool.peek(100)).map(r => r.seq)
  t.ok(present.filter(seq => seq <= lastSent).length < window.length, 'fewer of the window remain than were sent')
  await spool.ack(lastSent)
  const rest = (await spool.peek(100)).map(r => r.seq)
  t.same(rest, present.filter(seq => seq > lastSent), 'exactly the records after the window remain: none never sent was swallowed')
  t.equal((await spool.peek(100)).at(-1)!.payload, 'm0039')
  await spool.close()
})
