// The bounded store-and-forward spool: telemetry produced while the broker is unreachable, kept on disk
// and handed back in production order. Two append-only segment streams, `metrics/` and `events/`
// (events, decisions and policy outcomes), share one seq counter; the reader merges them by seq, so
// delivery order is production order across both.
//
// Bound (`maxBytes`, the policy's spoolMaxMb): before an append would exceed it, the oldest metrics
// segment is deleted — oldest metrics go first, whole segments at a time — until the record fits. Events
// are never deleted to make room. If events alone fill the bound, a new record (event or metric) is
// refused: `append` says so, the refusal is counted, and the caller reports the loss once delivery
// resumes (TelemetryClient publishes a `telemetry.spool-overflow` event).
//
// Durability (fsync policy): an event append is fsynced before `append` resolves. Metrics are fsynced at
// most every `metricsSyncMs` (checked on append), when a segment is closed and on close(); a process
// crash loses none of them (the page cache survives it), a power loss at most that last interval's
// metrics. New segment files get a directory fsync. The delivered cursor (`delivered`, the highest seq
// the broker acknowledged) is replaced atomically but not fsynced: after a power loss some delivered
// records may be sent again — delivery is at least once, and every payload carries (boot, seq).
import { join } from 'node:path'
import { frameBytes, type SpoolRecord } from './record-frame.js'
import { SegmentLog, type BufferedRecord } from './segment-log.js'
import type { SpoolFs } from './spool-fs.js'

export type RecordClass = 'metric' | 'event'

export interface SpoolOptions {
  readonly dir: string
  readonly maxBytes: number
  readonly fs: SpoolFs
  /** Monotonic or wall ms; only differences are used. */
  readonly now: () => number
  readonly metricsSyncMs?: number
  /** Segment size; defaults to maxBytes/16 clamped to [16 KiB, 4 MiB], so dropping one frees a small share. */
  readonly segmentBytes?: number
}

export interface SpoolStats {
  readonly pending: number
  readonly bytes: number
  readonly maxBytes: number
  /** Undelivered metrics deleted to keep the bound, since open. */
  readonly metricsDropped: number
  /** Records refused because events alone filled the bound, since open. */
  readonly refused: number
}

export type AppendOutcome = 'stored' | 'refused'

export interface QueuedRecord extends SpoolRecord {
  readonly recordClass: RecordClass
}

export class Spool {
  /** The bound in bytes; a new value applies from the next append (spool files are not rewritten). */
  maxBytes: number
  private metricsDropped = 0
  private refused = 0
  private lastMetricsSync: number
  private nextSeq: number

  private constructor(
    private readonly options: SpoolOptions,
    private readonly logs: Record<RecordClass, SegmentLog>,
    deliveredSeq: number,
  ) {
    this.nextSeq = Math.max(deliveredSeq, logs.metric.lastSeq, logs.event.lastSeq) + 1
    this.lastMetricsSync = options.now()
    this.maxBytes = options.maxBytes
  }

  /** Opens (creating) the spool directory and replays what a previous run left undelivered. */
  static async open(options: SpoolOptions): Promise<Spool> {
    const { dir, fs } = options
    await fs.mkdirp(dir)
    const cursor = (await fs.list(dir)).includes('delivered') ? Number((await fs.readFile(join(dir, 'delivered'))).toString('utf8').trim()) : 0
    const deliveredSeq = Number.isSafeInteger(cursor) && cursor > 0 ? cursor : 0
    const segmentBytes = options.segmentBytes ?? Math.min(4 << 20, Math.max(16 << 10, Math.floor(options.maxBytes / 16)))
    const metric = await SegmentLog.open(join(dir, 'metrics'), fs, segmentBytes, deliveredSeq)
    const event = await SegmentLog.open(join(dir, 'events'), fs, segmentBytes, deliveredSeq)
    return new Spool(options, { metric, event }, deliveredSeq)
  }

  get stats(): SpoolStats {
    return {
      pending: this.logs.metric.undelivered + this.logs.event.undelivered,
      bytes: this.logs.metric.bytes + this.logs.event.bytes,
      maxBytes: this.maxBytes,
      metricsDropped: this.metricsDropped,
      refused: this.refused,
    }
  }

  get pending(): number {
    return this.logs.metric.undelivered + this.logs.event.undelivered
  }

  async append(recordClass: RecordClass, topic: string, payload: string, retain = false): Promise<AppendOutcome> {
    const record: SpoolRecord = { seq: this.nextSeq, topic, payload, retain }
    const size = frameBytes(topic, payload)
    while (this.logs.metric.bytes + this.logs.event.bytes + size > this.maxBytes) {
      if (this.logs.metric.segmentCount === 0) {
        this.refused++
        return 'refused'
      }
      this.metricsDropped += await this.logs.metric.dropOldest()
    }
    this.nextSeq++
    if (recordClass === 'event') {
      await this.logs.event.append([record], true)
    } else {
      const now = this.options.now()
      const sync = now - this.lastMetricsSync >= (this.options.metricsSyncMs ?? 1000)
      if (sync) this.lastMetricsSync = now
      await this.logs.metric.append([record], sync)
    }
    return 'stored'
  }

  /**
   * Up to `max` of the oldest undelivered records with seq > `afterSeq`, in production order; they stay
   * until `ack`. `afterSeq` skips a window already on the wire; at most `inFlight` records are skipped.
   */
  async peek(max: number, afterSeq = 0, inFlight = 0): Promise<QueuedRecord[]> {
    const reach = max + inFlight
    const [metrics, events] = await Promise.all([this.logs.metric.head(reach), this.logs.event.head(reach)])
    const after = (records: readonly BufferedRecord[]) => records.filter(r => r.seq > afterSeq)
    return mergeBySeq(after(metrics), after(events), max).map(({ record, recordClass }) => ({ seq: record.seq, topic: record.topic, payload: record.payload, retain: record.retain, recordClass }))
  }

  /**
   * The broker acknowledged every record `peek` returned up to and including seq `throughSeq`. By seq,
   * not by count: the bound may have dropped some of those records meanwhile, and a count would then
   * swallow newer records that were never sent.
   */
  async ack(throughSeq: number): Promise<void> {
    await this.logs.metric.consumeThrough(throughSeq)
    await this.logs.event.consumeThrough(throughSeq)
    await this.options.fs.replaceFile(join(this.options.dir, 'delivered'), `${throughSeq}\n`)
  }

  async close(): Promise<void> {
    await this.logs.metric.close()
    await this.logs.event.close()
  }
}

function mergeBySeq(metrics: readonly BufferedRecord[], events: readonly BufferedRecord[], max: number): Array<{ record: BufferedRecord; recordClass: RecordClass }> {
  const merged: Array<{ record: BufferedRecord; recordClass: RecordClass }> = []
  let m = 0
  let e = 0
  while (merged.length < max && (m < metrics.length || e < events.length)) {
    const metric = metrics[m]
    const event = events[e]
    if (metric && (!event || metric.seq < event.seq)) {
      merged.push({ record: metric, recordClass: 'metric' })
      m++
    } else {
      merged.push({ record: event!, recordClass: 'event' })
      e++
    }
  }
  return merged
}
