// VICI transport and packet layers (strongSwan src/libcharon/plugins/vici/README.md, "Transport protocol"
// and "Packet layer"): a u32 big-endian length, then a u8 packet type, then for named types a u8-length
// name, then the message. Pure: frames in, packets out.
import { ViciCodecError } from './errors.js'
import { decodeMessage, encodeMessage, type ViciMessage, type ViciMessageInput } from './message.js'

export const PacketType = {
  CMD_REQUEST: 0,
  CMD_RESPONSE: 1,
  CMD_UNKNOWN: 2,
  EVENT_REGISTER: 3,
  EVENT_UNREGISTER: 4,
  EVENT_CONFIRM: 5,
  EVENT_UNKNOWN: 6,
  EVENT: 7,
} as const

/** The README caps a segment at 512 KiB; charon drops connections that send more. */
export const MAX_FRAME_BYTES = 512 * 1024

export type ViciPacket<M = ViciMessage> =
  | { readonly type: 'cmd-request'; readonly name: string; readonly message: M }
  | { readonly type: 'cmd-response'; readonly message: M }
  | { readonly type: 'cmd-unknown' }
  | { readonly type: 'event-register'; readonly name: string }
  | { readonly type: 'event-unregister'; readonly name: string }
  | { readonly type: 'event-confirm' }
  | { readonly type: 'event-unknown' }
  | { readonly type: 'event'; readonly name: string; readonly message: M }

/** Encodes one packet with its u32 length prefix, ready to write to the socket. */
export function encodePacket(packet: ViciPacket<ViciMessageInput>): Buffer {
  const head: number[] = []
  let name: Buffer | undefined
  let body: Buffer | undefined
  switch (packet.type) {
    case 'cmd-request':
      head.push(PacketType.CMD_REQUEST)
      name = Buffer.from(packet.name, 'utf8')
      body = encodeMessage(packet.message)
      break
    case 'cmd-response':
      head.push(PacketType.CMD_RESPONSE)
      body = encodeMessage(packet.message)
      break
    case 'cmd-unknown':
      head.push(PacketType.CMD_UNKNOWN)
      break
    case 'event-register':
      head.push(PacketType.EVENT_REGISTER)
      name = Buffer.from(packet.name, 'utf8')
      break
    case 'event-unregister':
      head.push(PacketType.EVENT_UNREGISTER)
      name = Buffer.from(packet.name, 'utf8')
      break
    case 'event-confirm':
      head.push(PacketType.EVENT_CONFIRM)
      break
    case 'event-unknown':
      head.push(PacketType.EVENT_UNKNOWN)
      break
    case 'event':
      head.push(PacketType.EVENT)
      name = Buffer.from(packet.name, 'utf8')
      body = encodeMessage(packet.message)
      break
  }
  if (name) {
    if (name.length > 0xff) throw new ViciCodecError('length-overflow', 5, `packet name is ${name.length} bytes, the limit is 255`)
    head.push(name.length)
  }
  const payloadLength = head.length + (name?.length ?? 0) + (body?.length ?? 0)
  if (payloadLength > MAX_FRAME_BYTES) {
    throw new ViciCodecError('length-overflow', 0, `packet is ${payloadLength} bytes, the VICI limit is ${MAX_FRAME_BYTES}`)
  }
  const prefix = Buffer.alloc(4)
  prefix.writeUInt32BE(payloadLength)
  return Buffer.concat([prefix, Buffer.from(head), name ?? Buffer.alloc(0), body ?? Buffer.alloc(0)])
}

/**
 * Decodes one frame's payload (the bytes after the u32 length). Offsets in errors count from the start of
 * the payload.
 */
export function decodePacket(payload: Buffer): ViciPacket {
  if (payload.length < 1) throw new ViciCodecError('truncated', 0, 'empty frame, no packet type')
  const type = payload[0]!
  const readName = (): { name: string; end: number } => {
    if (payload.length < 2) throw new ViciCodecError('truncated', 1, 'name length byte missing')
    const len = payload[1]!
    if (2 + len > payload.length) {
      throw new ViciCodecError('truncated', 1, `packet name of ${len} bytes runs past the end (${payload.length - 2} left)`)
    }
    return { name: payload.toString('utf8', 2, 2 + len), end: 2 + len }
  }
  const expectEmpty = (from: number, what: string): void => {
    if (payload.length > from) {
      throw new ViciCodecError('length-overflow', from, `${what} carries ${payload.length - from} unexpected trailing bytes`)
    }
  }
  switch (type) {
    case PacketType.CMD_REQUEST: {
      const { name, end } = readName()
      return { type: 'cmd-request', name, message: decodeMessage(payload.subarray(end), end) }
    }
    case PacketType.CMD_RESPONSE:
      return { type: 'cmd-response', message: decodeMessage(payload.subarray(1), 1) }
    case PacketType.CMD_UNKNOWN:
      expectEmpty(1, 'CMD_UNKNOWN')
      return { type: 'cmd-unknown' }
    case PacketType.EVENT_REGISTER: {
      const { name, end } = readName()
      expectEmpty(end, 'EVENT_REGISTER')
      return { type: 'event-register', name }
    }
    case PacketType.EVENT_UNREGISTER: {
      const { name, end } = readName()
      expectEmpty(end, 'EVENT_UNREGISTER')
      return { type: 'event-unregister', name }
    }
    case PacketType.EVENT_CONFIRM:
      expectEmpty(1, 'EVENT_CONFIRM')
      return { type: 'event-confirm' }
    case PacketType.EVENT_UNKNOWN:
      expectEmpty(1, 'EVENT_UNKNOWN')
      return { type: 'event-unknown' }
    case PacketType.EVENT: {
      const { name, end } = readName()
      return { type: 'event', name, message: decodeMessage(payload.subarray(end), end) }
    }
    default:
      throw new ViciCodecError('bad-packet-type', 0, `packet type ${type} is not one of 0..7`)
  }
}

/**
 * Reassembles frames from a byte stream: a socket delivers chunks that split and join frames arbitrarily.
 * Holds only the unconsumed tail; `push` returns every frame payload completed by the chunk.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0)
  /** Stream offset of `pending[0]`, so errors point at the byte in the whole stream. */
  private consumed = 0

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    const frames: Buffer[] = []
    let pos = 0
    while (this.pending.length - pos >= 4) {
      const len = this.pending.readUInt32BE(pos)
      if (len > MAX_FRAME_BYTES) {
        throw new ViciCodecError('length-overflow', this.consumed + pos, `frame length ${len} exceeds the VICI limit of ${MAX_FRAME_BYTES}`)
      }
      if (this.pending.length - pos - 4 < len) break
      frames.push(this.pending.subarray(pos + 4, pos + 4 + len))
      pos += 4 + len
    }
    this.pending = this.pending.subarray(pos)
    this.consumed += pos
    return frames
  }

  /** Bytes received that do not yet form a whole frame; non-zero at end of stream means it was cut short. */
  get bufferedBytes(): number {
    return this.pending.length
  }
}
