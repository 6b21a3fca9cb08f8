// On-disk framing of one spooled record. Pure.
//
//   u32 BE  body length
//   u32 BE  CRC-32 (zlib polynomial) of the body
//   body:   u64 BE seq · u8 flags (bit 0: retain) · u16 BE topic length · topic (UTF-8) · payload (UTF-8)
//
// The length + CRC make a torn append (power lost mid-write) detectable: decoding stops at the first
// frame that is short or fails its CRC, and everything before it is intact.
import { crc32 } from 'node:zlib'

export interface SpoolRecord {
  readonly seq: number
  readonly topic: string
  readonly payload: string
  readonly retain: boolean
}

const HEADER = 8
const BODY_FIXED = 8 + 1 + 2
/** A frame larger than this is corruption, not a record: no telemetry payload comes near it. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024

/** Bytes `encodeFrame` will take for this record, without encoding it. */
export const frameBytes = (topic: string, payload: string): number => HEADER + BODY_FIXED + Buffer.byteLength(topic, 'utf8') + Buffer.byteLength(payload, 'utf8')

export function encodeFrame(record: SpoolRecord): Buffer {
  const topic = Buffer.from(record.topic, 'utf8')
  const payload = Buffer.from(record.payload, 'utf8')
  const bodyLength = BODY_FIXED + topic.length + payload.length
  const frame = Buffer.allocUnsafe(HEADER + bodyLength)
  frame.writeUInt32BE(bodyLength, 0)
  frame.writeBigUInt64BE(BigInt(record.seq), HEADER)
  frame.writeUInt8(record.retain ? 1 : 0, HEADER + 8)
  frame.writeUInt16BE(topic.length, HEADER + 9)
  topic.copy(frame, HEADER + BODY_FIXED)
  payload.copy(frame, HEADER + BODY_FIXED + topic.length)
  frame.writeUInt32BE(crc32(frame.subarray(HEADER)), 4)
  return frame
}

export interface DecodedFrames {
  readonly records: SpoolRecord[]
  /** Bytes of `buffer` taken by whole, valid frames; anything after is a torn or corrupt tail. */
  readonly validBytes: number
}

export function decodeFrames(buffer: Buffer): DecodedFrames {
  const records: SpoolRecord[] = []
  let at = 0
  while (buffer.length - at >= HEADER) {
    const bodyLength = buffer.readUInt32BE(at)
    if (bodyLength < BODY_FIXED || bodyLength > MAX_BODY_BYTES || buffer.length - at - HEADER < bodyLength) break
    const body = buffer.subarray(at + HEADER, at + HEADER + bodyLength)
    if (crc32(body) !== buffer.readUInt32BE(at + 4)) break
    const topicLength = body.readUInt16BE(9)
    if (BODY_FIXED + topicLength > bodyLength) break
    records.push({
      seq: Number(body.readBigUInt64BE(0)),
      retain: (body.readUInt8(8) & 1) === 1,
      topic: body.toString('utf8', BODY_FIXED, BODY_FIXED + topicLength),
      payload: body.toString('utf8', BODY_FIXED + topicLength),
    })
    at += HEADER + bodyLength
  }
  return { records, validBytes: at }
}
