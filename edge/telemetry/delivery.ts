// Ordered, at-least-once delivery of telemetry records over a connection that comes and goes.
//
// Two modes. Direct: connected and the spool is empty — records are published at once with QoS 1 and
// remembered until their PUBACK. Spooling: not connected, or the spool still holds records — new
// records are appended to the spool, and while connected the spool is drained oldest first, in windows
// (two on the wire at a time), each acknowledged in the spool only after every PUBACK in it arrived. One
// connection carries them in order (MQTT 5 §4.6, ordered topics). When the spool
// runs empty the mode returns to direct. When a connection is lost, the direct records still waiting for
// a PUBACK go back into the spool first, ahead of anything produced later, so production order holds
// (the broker may then see some of them twice: QoS 1 is at least once, MQTT 5 §4.3.2).
//
// Every state change runs on one promise chain, so an append can never slip between "the spool is
// empty" and "switch to direct".
import type { MqttConnection } from './mqtt-port.js'
import { MqttRefused } from './mqtt-port.js'
import type { RecordClass, Spool, SpoolStats } from './spool/spool.js'

export interface OutgoingRecord {
  readonly recordClass: RecordClass
  readonly topic: string
  readonly payload: string
  readonly retain: boolean
}

export interface DeliveryCounters {
  /** Records the broker acknowledged. */
  readonly delivered: number
  /** Records the broker refused with a reason code (e.g. 0x87 not authorised); not retried. */
  readonly refusedByBroker: number
  /** Records lost because the spool could not write them (disk full, I/O error). */
  readonly lostToSpoolErrors: number
}

export interface DeliveryHooks {
  /** A record was refused by the spool bound (spool.ts); the caller reports the loss later. */
  readonly onRefusedBySpool?: (record: OutgoingRecord) => void
  /** The spool ran empty while connected. */
  readonly onDrained?: () => void
  readonly onError?: (error: Error) => void
}

/** Records per drain window: enough to keep the pipe full, few enough to resend cheaply after a loss. */
const DRAIN_WINDOW = 500

export class Delivery {
  private chain: Promise<unknown> = Promise.resolve()
  private connection: MqttConnection | undefined
  private direct = false
  private readonly inFlight = new Set<{ record: OutgoingRecord; acked: boolean }>()
  private counters = { delivered: 0, refusedByBroker: 0, lostToSpoolErrors: 0 }

  constructor(
    private readonly spool: Spool,
    private readonly hooks: DeliveryHooks = {},
  ) {}

  get stats(): DeliveryCounters & { spool: SpoolStats; inFlight: number; mode: 'direct' | 'spooling' } {
    return { ...this.counters, spool: this.spool.stats, inFlight: this.inFlight.size, mode: this.direct ? 'direct' : 'spooling' }
  }

  /** Resolves once the record is handed to the broker connection or stored in the spool. */
  send(record: OutgoingRecord): Promise<void> {
    return this.serial(async () => {
      if (this.direct && this.connection) return this.publishDirect(this.connection, record)
      await this.store(record)
    })
  }

  /**
   * Into the spool. A disk error (ENOSPC, EIO) loses this record — counted and reported through onError —
   * rather than rejecting: a producer that fires and forgets must never crash the daemon.
   */
  private async store(record: OutgoingRecord): Promise<void> {
    try {
      const outcome = await this.spool.append(record.recordClass, record.topic, record.payload, record.retain)
      if (outcome === 'refused') this.hooks.onRefusedBySpool?.(record)
    } catch (error) {
      this.counters.lostToSpoolErrors++
      this.hooks.onError?.(error as Error)
    }
  }

  /** A connection is up (birth done): start draining the spool over it. */
  attach(connection: MqttConnection): void {
    this.connection = connection
    void this.drain(connection)
  }

  /** The connection is gone: put unacknowledged direct records back into the spool, ahead of newer ones. */
  detach(): Promise<void> {
    this.connection = undefined
    this.direct = false
    const unacked = [...this.inFlight].filter(f => !f.acked)
    this.inFlight.clear()
    return this.serial(async () => {
      for (const { record } of unacked) await this.store(record)
    })
  }

  /** Waits until everything queued so far has been appended or handed over. */
  settled(): Promise<void> {
    return this.serial(async () => undefined)
  }

  private serial<T>(step: () => Promise<T> | T): Promise<T> {
    const next = this.chain.then(step)
    this.chain = next.catch(() => undefined)
    return next
  }

  private publishDirect(connection: MqttConnection, record: OutgoingRecord): void {
    const flight = { record, acked: false }
    this.inFlight.add(flight)
    connection.publish(record.topic, record.payload, { qos: 1, retain: record.retain, contentType: 'application/json' }).then(
      () => {
        flight.acked = true
        this.inFlight.delete(flight)
        this.counters.delivered++
      },
      (error: Error) => {
        if (!(error instanceof MqttRefused)) return // connection lost: detach() re-spools it
        flight.acked = true
        this.inFlight.delete(flight)
        this.counters.refusedByBroker++
        this.hooks.onError?.(error)
      },
    )
  }

  /**
   * Sends the spool over `connection`, two windows deep: while one window's PUBACKs are awaited the next
   * is already on the wire, so a round trip per window does not stall the replay. Windows are acked in
   * order, each only once all its PUBACKs arrived.
   */
  private async drain(connection: MqttConnection): Promise<void> {
    let waiting: { lastSeq: number; size: number; results: Promise<PromiseSettledResult<void>[]> } | undefined
    try {
      for (;;) {
        if (this.connection !== connection) return
        const sentThrough = waiting?.lastSeq ?? 0
        const inFlight = waiting?.size ?? 0
        const batch = await this.serial(async () => {
          const records = await this.spool.peek(DRAIN_WINDOW, sentThrough, inFlight)
          if (records.length === 0 && !waiting && this.connection === connection) this.direct = true
          return records
        })
        if (batch.length === 0 && !waiting) {
          this.hooks.onDrained?.()
          return
        }
        const sending =
          batch.length === 0
            ? undefined
            : {
                lastSeq: batch[batch.length - 1]!.seq,
                size: batch.length,
                results: Promise.allSettled(batch.map(r => connection.publish(r.topic, r.payload, { qos: 1, retain: r.retain, contentType: 'application/json' }))),
              }
        if (waiting && !(await this.acknowledge(connection, waiting))) return
        waiting = sending
      }
    } catch (error) {
      this.hooks.onError?.(error as Error)
    }
  }

  /** Waits for a window's PUBACKs and acks it in the spool; false when the connection went meanwhile. */
  private async acknowledge(connection: MqttConnection, window: { lastSeq: number; results: Promise<PromiseSettledResult<void>[]> }): Promise<boolean> {
    const results = await window.results
    // The connection went: the window stays in the spool and is sent again on the next one.
    if (results.some(r => r.status === 'rejected' && !(r.reason instanceof MqttRefused))) return false
    for (const r of results) {
      if (r.status === 'fulfilled') this.counters.delivered++
      else {
        this.counters.refusedByBroker++
        this.hooks.onError?.(r.reason as Error)
      }
    }
    // A drain left over from a lost connection must not ack: a newer drain may have peeked the same
    // records, and acking would skip records nobody sent on the new connection. They go out again.
    return this.serial(async () => {
      if (this.connection !== connection) return false
      await this.spool.ack(window.lastSeq)
      return true
    })
  }
}
