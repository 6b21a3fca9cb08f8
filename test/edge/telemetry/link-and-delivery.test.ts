// BrokerLink and Delivery over an in-memory broker with hand-fired timers: backoff growth, cap, jitter
// and reset; order kept across losses with unacknowledged records re-spooled ahead of newer ones;
// broker refusals not retried; the will and birth the client sends.
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { backoffDelayMs } from '../../../edge/telemetry/backoff.js'
import { TelemetryClient } from '../../../edge/telemetry/telemetry-client.js'
import { nodeSpoolFs, type SpoolFs } from '../../../edge/telemetry/spool/spool-fs.js'
import type { Timers } from '../../../edge/telemetry/timers.js'
import { FIXED_FACTS } from './helpers/edge.js'
import { FakeBroker } from './helpers/fake-mqtt.js'

class HandTimers implements Timers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>()
  readonly delays: number[] = []
  private next = 1
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.next++
    this.pending.set(id, { callback, ms })
    this.delays.push(ms)
    return id
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number)
  }
  fire(): void {
    for (const [id, { callback }] of [...this.pending]) {
      this.pending.delete(id)
      callback()
    }
  }
}

const flush = () => new Promise(r => setImmediate(r))
async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !predicate(); i++) await flush()
  if (!predicate()) throw new Error('condition never held')
}

async function client(t: Test, broker: FakeBroker, timers: HandTimers, random = () => 0.5, spoolFs?: SpoolFs) {
  const stateDir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-link-test-'))
  t.teardown(() => fsp.rm(stateDir, { recursive: true, force: true }))
  const telemetry = await TelemetryClient.open({
    identity: { site: 'office-lyon', device: 'edge-lyon-1' },
    settings: { broker: 'mqtt://127.0.0.1:1883', topicPrefix: 'sdwan', reportIntervalS: 10, spoolMaxMb: 1 },
    firmware: '0.1.0',
    stateDir,
    runningSerial: () => 7,
    connect: broker.connect,
    timers,
    random,
    clock: { now: () => Date.UTC(2026, 10, 23, 20, 0, 0) },
    backoff: { initialMs: 1000, maxMs: 8000, jitter: 0.5 },
    systemFacts: FIXED_FACTS,
    bootId: '00112233445566ff',
    ...(spoolFs ? { spoolFs } : {}),
  })
  return telemetry
}

t.test('backoff doubles to its cap, with jitter inside [delay·(1−jitter), delay]', async t => {
  const settings = { initialMs: 1000, maxMs: 8000, jitter: 0.5 }
  t.same([0, 1, 2, 3, 4, 10].map(a => backoffDelayMs(a, settings, () => 0)), [1000, 2000, 4000, 8000, 8000, 8000])
  t.same([0, 1, 2, 3, 4].map(a => backoffDelayMs(a, settings, () => 0.999999)), [500, 1000, 2000, 4000, 4000])
  t.equal(backoffDelayMs(1_000_000, settings, () => 0), 8000, 'huge attempt counts do not overflow')
})

t.test('the link retries with growing delays and resets them after a connection', async t => {
  const broker = new FakeBroker()
  broker.up = false
  const timers = new HandTimers()
  const telemetry = await client(t, broker, timers, () => 0)
  telemetry.start()
  for (let i = 0; i < 5; i++) {
    await until(() => timers.pending.size === 1)
    timers.fire()
  }
  await until(() => timers.pending.size === 1)
  t.same(timers.delays, [1000, 2000, 4000, 8000, 8000, 8000])
  broker.up = true
  timers.fire()
  await until(() => telemetry.connected)
  const request = broker.current!.request
  t.equal(request.clientId, 'edge-lyon-1', 'the device id is the client id')
  t.same(request.will, {
    topic: 'sdwan/office-lyon/edge-lyon-1/state',
    payload: JSON.stringify({ v: 1, ts: '2026-11-23T20:00:00.000Z', boot: '00112233445566ff', online: false, reason: 'connection-lost', firmware: '0.1.0', serial: 7 }),
    retain: true,
    qos: 1,
  })
  t.match(broker.current!.published.map(p => [p.topic, p.options.retain]), [
    ['sdwan/office-lyon/edge-lyon-1/state', true],
    ['sdwan/office-lyon/edge-lyon-1/inventory', true],
  ])
  broker.current!.drop()
  await until(() => timers.pending.size === 1)
  t.equal(timers.delays.at(-1), 1000, 'a connection resets the backoff')
  await telemetry.stop()
})

t.test('records stay in order across a loss: unacknowledged ones go back to the spool first', async t => {
  const broker = new FakeBroker()
  broker.holdAcks = true
  const timers = new HandTimers()
  const telemetry = await client(t, broker, timers)
  telemetry.start()
  await until(() => broker.connections.length === 1)
  broker.current!.ackHeld() // birth
  await until(() => broker.current!.published.length === 2)
  broker.current!.ackHeld() // inventory
  await until(() => telemetry.connected)
  const event = (n: number) => telemetry.publishEvent({ type: 'test.n', severity: 'info', message: String(n) })
  await until(() => telemetry.status().delivery.mode === 'direct')
  for (let n = 1; n <= 5; n++) await event(n)
  broker.current!.ackHeld() // records 1–5 acknowledged
  for (let n = 6; n <= 10; n++) await event(n)
  broker.current!.ackHeld(2) // records 6 and 7 acknowledged; 8–10 in flight
  await flush()
  broker.current!.drop()
  for (let n = 11; n <= 15; n++) await event(n)
  await telemetry.settled()
  t.equal(telemetry.status().delivery.spool.pending, 8, '8–10 re-spooled, 11–15 spooled')
  broker.holdAcks = false
  timers.fire()
  await until(() => telemetry.status().delivery.spool.pending === 0 && telemetry.status().delivery.mode === 'direct')
  for (let n = 16; n <= 17; n++) await event(n)
  await telemetry.settled()
  const seen = broker.payloads(p => p.topic.endsWith('/events')).map(p => Number((JSON.parse(p) as { message: string }).message))
  const firstSeen = seen.filter((n, i) => seen.indexOf(n) === i)
  t.same(firstSeen, Array.from({ length: 17 }, (_, i) => i + 1), 'every record, in production order')
  await telemetry.stop()
})

t.test('a record the broker refuses (0x87) is counted, not retried forever', async t => {
  const broker = new FakeBroker()
  const timers = new HandTimers()
  const telemetry = await client(t, broker, timers)
  telemetry.start()
  await until(() => telemetry.connected)
  broker.current!.refuse.add('sdwan/office-lyon/edge-lyon-1/decisions')
  await until(() => telemetry.status().delivery.mode === 'direct')
  await telemetry.publishDecisions([{ class: 'bulk', active: [{ path: 'fibre', weight: 3 }], keep: [], reason: 'test' }])
  await telemetry.publishEvent({ type: 'test.after', severity: 'info', message: 'after' })
  await until(() => telemetry.status().delivery.refusedByBroker === 1)
  t.equal(telemetry.status().delivery.spool.pending, 0)
  t.match(telemetry.status().lastError, /Not authorized/)
  await telemetry.stop()
})

t.test('stop publishes the retained offline state and disconnects in order', async t => {
  const broker = new FakeBroker()
  const timers = new HandTimers()
  const telemetry = await client(t, broker, timers)
  telemetry.start()
  await until(() => telemetry.connected)
  const connection = broker.current!
  await telemetry.stop()
  const last = connection.published.at(-1)!
  t.equal(last.topic, 'sdwan/office-lyon/edge-lyon-1/state')
  t.match(JSON.parse(last.payload), { online: false, reason: 'shutdown' })
  t.ok(last.options.retain)
  t.ok(connection.closed)
  t.equal(timers.pending.size, 0, 'no retry is scheduled after stop')
})

t.test('a full disk loses the record, counted, without rejecting the producer', async t => {
  let diskFull = false
  const failingFs: SpoolFs = {
    ...nodeSpoolFs,
    async openAppend(path) {
      const file = await nodeSpoolFs.openAppend(path)
      return {
        ...file,
        append: data => (diskFull ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) : file.append(data)),
      }
    },
  }
  const broker = new FakeBroker()
  broker.up = false
  const timers = new HandTimers()
  const telemetry = await client(t, broker, timers, () => 0.5, failingFs)
  telemetry.start()
  await telemetry.publishEvent({ type: 'test.kept', severity: 'info', message: 'kept' })
  diskFull = true
  await telemetry.publishEvent({ type: 'test.lost', severity: 'info', message: 'lost' })
  await telemetry.settled()
  t.equal(telemetry.status().delivery.lostToSpoolErrors, 1)
  t.match(telemetry.status().lastError, /ENOSPC/)
  diskFull = false
  broker.up = true
  timers.fire()
  await until(() => telemetry.status().delivery.spool.pending === 0 && telemetry.connected)
  t.same(broker.payloads(p => p.topic.endsWith('/events')).map(p => (JSON.parse(p) as { message: string }).message), ['kept'])
  await telemetry.stop()
})

t.test('reconfigure: same broker keeps the session; a new one gets a new session after an offline state', async t => {
  const broker = new FakeBroker()
  const timers = new HandTimers()
  const telemetry = await client(t, broker, timers)
  telemetry.start()
  await until(() => telemetry.connected)
  const first = broker.current!
  const settings = { broker: 'mqtt://127.0.0.1:1883', topicPrefix: 'sdwan', reportIntervalS: 30, spoolMaxMb: 2 }
  await telemetry.reconfigure({ site: 'office-lyon', device: 'edge-lyon-1' }, settings)
  t.equal(broker.current, first, 'only the report interval and bound changed: same session')
  t.equal(telemetry.status().delivery.spool.maxBytes, 2 * 1024 * 1024, 'the new bound applies')
  await telemetry.reconfigure({ site: 'office-lyon', device: 'edge-lyon-1' }, { ...settings, broker: 'mqtt://127.0.0.1:2883', topicPrefix: 'acme' })
  await until(() => telemetry.connected)
  t.ok(first.closed, 'the old session is closed')
  t.match(JSON.parse(first.published.at(-1)!.payload), { online: false, reason: 'shutdown' })
  t.equal(broker.current!.request.url, 'mqtt://127.0.0.1:2883')
  t.equal(broker.current!.published[0]!.topic, 'acme/office-lyon/edge-lyon-1/state', 'the birth uses the new prefix')
  await telemetry.stop()
})
