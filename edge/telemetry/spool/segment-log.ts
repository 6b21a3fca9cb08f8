// One append-only stream of spooled records, kept as numbered segment files in one directory
// (`0000000000000042.seg` holds records from seq 42 on). Appends go to the newest segment; a segment
// that reaches `segmentBytes` is closed and a new one started. Whole segments are the unit of deletion:
// when every record in one is delivered, or when the spool drops the oldest metrics to stay in bound.
// A reader walks the stream in order without removing anything; `consume` marks records delivered.
import { join } from 'node:path'
import { decodeFrames, encodeFrame, type SpoolRecord } from './record-frame.js'
import type { AppendFile, SpoolFs } from './spool-fs.js'

const SEGMENT_NAME = /^(\d{16})\.seg$/

interface Segment {
  readonly name: string
  bytes: number
  lastSeq: number
  /** Records in this segment not yet delivered. */
  undelivered: number
}

export interface BufferedRecord extends SpoolRecord {
  readonly segment: string
}

export class SegmentLog {
  private readonly segments: Segment[] = []
  private writer: { segment: Segment; file: AppendFile } | undefined
  /** Read position: the segment being read and the byte offset of the next unread frame in it. */
  private readAt: { segment: string; offset: number } | undefined
  private readonly buffer: BufferedRecord[] = []
  /** Records up to this seq were delivered before a restart; a kept segment may still hold some. */
  private deliveredFloor = 0

  private constructor(
    private readonly dir: string,
    private readonly fs: SpoolFs,
    private readonly segmentBytes: number,
  ) {}

  /**
   * Opens the stream, cutting any torn tail a crash left (see record-frame.ts) and skipping records
   * with seq ≤ `deliveredSeq`. Segments wholly delivered are removed.
   */
  static async open(dir: string, fs: SpoolFs, segmentBytes: number, deliveredSeq: number): Promise<SegmentLog> {
    const log = new SegmentLog(dir, fs, segmentBytes)
    await fs.mkdirp(dir)
    const names = (await fs.list(dir)).filter(n => SEGMENT_NAME.test(n)).sort()
    for (const name of names) {
      const path = join(dir, name)
      const data = await fs.readFile(path)
      const { records, validBytes } = decodeFrames(data)
      if (validBytes < data.length) await fs.truncate(path, validBytes)
      const undelivered = records.filter(r => r.seq > deliveredSeq).length
      if (undelivered === 0) {
        await fs.remove(path)
        continue
      }
      log.segments.push({ name, bytes: validBytes, lastSeq: records[records.length - 1]!.seq, undelivered })
    }
    log.deliveredFloor = deliveredSeq
    return log
  }

  get bytes(): number {
    return this.segments.reduce((sum, s) => sum + s.bytes, 0)
  }

  get undelivered(): number {
    return this.segments.reduce((sum, s) => sum + s.undelivered, 0)
  }

  get segmentCount(): number {
    return this.segments.length
  }

  get lastSeq(): number {
    return this.segments[this.segments.length - 1]?.lastSeq ?? 0
  }

  /** Appends records (ascending seq) to the newest segment, starting a new one when it is full. */
  async append(records: readonly SpoolRecord[], sync: boolean): Promise<number> {
    let written = 0
    for (const record of records) {
      const frame = encodeFrame(record)
      if (!this.writer || this.writer.segment.bytes + frame.length > this.segmentBytes) await this.startSegment(record.seq)
      const { segment, file } = this.writer!
      await file.append(frame)
      segment.bytes += frame.length
      segment.lastSeq = record.seq
      segment.undelivered++
      written += frame.length
    }
    if (sync) await this.writer?.file.sync()
    return written
  }

  async sync(): Promise<void> {
    await this.writer?.file.sync()
  }

  private async startSegment(firstSeq: number): Promise<void> {
    if (this.writer) {
      // A closed segment is never written again: make it durable before moving on.
      await this.writer.file.sync()
      await this.writer.file.close()
    }
    const name = `${String(firstSeq).padStart(16, '0')}.seg`
    const file = await this.fs.openAppend(join(this.dir, name))
    // The new file's directory entry must survive a power loss as well as its bytes.
    await this.fs.syncDir(this.dir)
    const segment: Segment = { name, bytes: 0, lastSeq: firstSeq, undelivered: 0 }
    this.segments.push(segment)
    this.writer = { segment, file }
  }

  /** The next `count` undelivered records in order, or fewer when the stream holds fewer. */
  async head(count: number): Promise<readonly BufferedRecord[]> {
    while (this.buffer.length < count) if (!(await this.readMore())) break
    return this.buffer.slice(0, count)
  }

  private async readMore(): Promise<boolean> {
    let at = this.readAt
    let segment = at && this.segments.find(s => s.name === at!.segment)
    if (!segment || !at || at.offset >= segment.bytes) {
      const next = this.segments.find(s => !at || s.name > at.segment)
      if (!next) return false
      at = this.readAt = { segment: next.name, offset: 0 }
      segment = next
    }
    const data = await this.fs.readRange(join(this.dir, segment.name), at.offset, segment.bytes - at.offset)
    const { records, validBytes } = decodeFrames(data)
    at.offset += validBytes
    for (const r of records) if (r.seq > this.deliveredFloor) this.buffer.push({ ...r, segment: segment.name })
    return validBytes > 0
  }

  /** Marks every record with seq ≤ `seq` delivered; removes segments left empty. */
  async consumeThrough(seq: number): Promise<void> {
    while (this.buffer.length === 0 || this.buffer[this.buffer.length - 1]!.seq < seq) if (!(await this.readMore())) break
    const firstAfter = this.buffer.findIndex(r => r.seq > seq)
    await this.consume(firstAfter === -1 ? this.buffer.length : firstAfter)
  }

  private async consume(count: number): Promise<void> {
    for (const record of this.buffer.splice(0, count)) {
      const segment = this.segments.find(s => s.name === record.segment)
      if (segment) segment.undelivered--
    }
    for (const segment of [...this.segments]) if (segment.undelivered === 0) await this.removeSegment(segment)
  }

  /** Deletes the oldest segment whatever it holds; returns the undelivered records it took along. */
  async dropOldest(): Promise<number> {
    const oldest = this.segments[0]
    if (!oldest) return 0
    const lost = oldest.undelivered
    await this.removeSegment(oldest)
    return lost
  }

  private async removeSegment(segment: Segment): Promise<void> {
    if (this.writer?.segment === segment) {
      await this.writer.file.close()
      this.writer = undefined
    }
    this.segments.splice(this.segments.indexOf(segment), 1)
    for (let i = this.buffer.length - 1; i >= 0; i--) if (this.buffer[i]!.segment === segment.name) this.buffer.splice(i, 1)
    if (this.readAt?.segment === segment.name) this.readAt = { segment: segment.name, offset: Number.MAX_SAFE_INTEGER }
    await this.fs.remove(join(this.dir, segment.name))
  }

  async close(): Promise<void> {
    if (!this.writer) return
    await this.writer.file.sync()
    await this.writer.file.close()
    this.writer = undefined
  }
}
