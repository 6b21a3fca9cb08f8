// STAMP test packet codecs (RFC 8762 §4.2, §4.3; SSID from RFC 8972 §3), pure functions over Buffer.
//
// Byte layouts (offsets in octets):
//   Session-Sender, unauthenticated (RFC 8762 §4.2.1, 44 octets; RFC 8972 §3 puts the SSID in 14..15):
//     0 Sequence Number(4) | 4 Timestamp(8) | 12 Error Estimate(2) | 14 SSID(2) | 16 MBZ(28)
//   Session-Sender, authenticated (RFC 8762 §4.2.2, 112 octets):
//     0 Sequence Number(4) | 4 MBZ(12) | 16 Timestamp(8) | 24 Error Estimate(2) | 26 MBZ(70) | 96 HMAC(16)
//   Session-Reflector, unauthenticated (RFC 8762 §4.3.1, 44 octets; SSID per RFC 8972 §3):
//     0 Sequence Number(4) | 4 Timestamp(8) | 12 Error Estimate(2) | 14 SSID(2) | 16 Receive Timestamp(8)
//     | 24 Session-Sender Sequence Number(4) | 28 Session-Sender Timestamp(8)
//     | 36 Session-Sender Error Estimate(2) | 38 MBZ(2) | 40 Ses-Sender TTL(1) | 41 MBZ(3)
//   Session-Reflector, authenticated (RFC 8762 §4.3.2, 112 octets):
//     0 Sequence Number(4) | 4 MBZ(12) | 16 Timestamp(8) | 24 Error Estimate(2) | 26 MBZ(6)
//     | 32 Receive Timestamp(8) | 40 MBZ(8) | 48 Session-Sender Sequence Number(4) | 52 MBZ(12)
//     | 64 Session-Sender Timestamp(8) | 72 Session-Sender Error Estimate(2) | 74 MBZ(6)
//     | 80 Ses-Sender TTL(1) | 81 MBZ(15) | 96 HMAC(16)
//
// TWAMP-Light (RFC 5357 §4.1.2, §4.2.1 and Appendix I) uses the unauthenticated layouts without the
// trailing MBZ: a sender packet can be as short as 14 octets (Sequence, Timestamp, Error Estimate) and a
// reflector packet as short as 41 (up to the Sender TTL). RFC 8762 §4.6 has STAMP accept both, reading
// the octets that are not there as zero; the decoders below do that.
import { authenticate, verify } from './hmac.js'
import type { NtpTimestamp } from './timestamp.js'

export const STAMP_PORT = 862
export const UNAUTH_LENGTH = 44
export const AUTH_LENGTH = 112
/** RFC 5357 §4.1.2: Sequence Number + Timestamp + Error Estimate. */
export const TWAMP_LIGHT_MIN_SENDER_LENGTH = 14
/** RFC 5357 §4.2.1: every reflector field up to and including the Sender TTL. */
export const TWAMP_LIGHT_MIN_REFLECTOR_LENGTH = 41
/** IPv4 UDP payload that fits a 1500-octet MTU; we never build anything larger. */
export const MAX_TEST_PACKET_LENGTH = 1472

export interface SenderPacket {
  readonly sequence: number
  readonly timestamp: NtpTimestamp
  /** The raw 16-bit Error Estimate field (see timestamp.ts). */
  readonly errorEstimate: number
  /** RFC 8972 §3 Session-Sender Identifier; 0 when the peer does not use one (and always in auth mode). */
  readonly ssid: number
}

export interface ReflectorPacket {
  readonly sequence: number
  readonly timestamp: NtpTimestamp
  readonly errorEstimate: number
  readonly ssid: number
  readonly receiveTimestamp: NtpTimestamp
  readonly senderSequence: number
  readonly senderTimestamp: NtpTimestamp
  readonly senderErrorEstimate: number
  readonly senderTtl: number
}

export type DecodeFailure = 'too-short' | 'bad-hmac'
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: DecodeFailure; readonly detail: string }

interface Layout {
  readonly sequence: number
  readonly timestamp: number
  readonly errorEstimate: number
  readonly ssid: number | null
}
interface ReflectorLayout extends Layout {
  readonly receiveTimestamp: number
  readonly senderSequence: number
  readonly senderTimestamp: number
  readonly senderErrorEstimate: number
  readonly senderTtl: number
}
const SENDER_UNAUTH: Layout = { sequence: 0, timestamp: 4, errorEstimate: 12, ssid: 14 }
const SENDER_AUTH: Layout = { sequence: 0, timestamp: 16, errorEstimate: 24, ssid: null }
const REFLECTOR_UNAUTH: ReflectorLayout = {
  sequence: 0, timestamp: 4, errorEstimate: 12, ssid: 14, receiveTimestamp: 16,
  senderSequence: 24, senderTimestamp: 28, senderErrorEstimate: 36, senderTtl: 40,
}
const REFLECTOR_AUTH: ReflectorLayout = {
  sequence: 0, timestamp: 16, errorEstimate: 24, ssid: null, receiveTimestamp: 32,
  senderSequence: 48, senderTimestamp: 64, senderErrorEstimate: 72, senderTtl: 80,
}

export interface EncodeOptions {
  /** HMAC-SHA-256 key: selects authenticated mode (RFC 8762 §4.2.2 / §4.3.2). */
  readonly key?: Buffer | undefined
  /** Total length; the octets past the base layout are zero padding (RFC 8762 §4.2: symmetrical size). */
  readonly length?: number | undefined
}

function checkedLength(options: EncodeOptions, base: number, min: number): number {
  const length = options.length ?? base
  if (!Number.isInteger(length) || length < min || length > MAX_TEST_PACKET_LENGTH) {
    throw new RangeError(`STAMP packet length ${length} is outside ${min}..${MAX_TEST_PACKET_LENGTH}`)
  }
  return length
}

function u32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RangeError(`${what} ${value} is not a u32`)
  return value
}
function u16(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError(`${what} ${value} is not a u16`)
  return value
}

export function encodeSenderPacket(p: SenderPacket, options: EncodeOptions = {}): Buffer {
  const auth = options.key !== undefined
  const layout = auth ? SENDER_AUTH : SENDER_UNAUTH
  const base = auth ? AUTH_LENGTH : UNAUTH_LENGTH
  // Unauthenticated senders may be TWAMP-Light-short; authenticated ones need room for the HMAC.
  const buf = Buffer.alloc(checkedLength(options, base, auth ? AUTH_LENGTH : TWAMP_LIGHT_MIN_SENDER_LENGTH))
  buf.writeUInt32BE(u32(p.sequence, 'sequence'), layout.sequence)
  buf.writeBigUInt64BE(p.timestamp, layout.timestamp)
  buf.writeUInt16BE(u16(p.errorEstimate, 'error estimate'), layout.errorEstimate)
  if (layout.ssid !== null && buf.length >= layout.ssid + 2) buf.writeUInt16BE(u16(p.ssid, 'ssid'), layout.ssid)
  if (options.key !== undefined) authenticate(buf, options.key)
  return buf
}

/** Why a packet is refused before any field is read: too short for its mode, or a wrong HMAC. */
function gate(buf: Buffer, min: number, key: Buffer | undefined): Extract<Decoded<never>, { ok: false }> | undefined {
  if (buf.length < min) return { ok: false, reason: 'too-short', detail: `${buf.length} octets, need ≥ ${min}` }
  if (key !== undefined && !verify(buf, key)) return { ok: false, reason: 'bad-hmac', detail: 'HMAC does not match the key' }
  return undefined
}

/** The fields both packet kinds start with (RFC 8762 §4.2, §4.3): sequence, timestamp, error estimate. */
const head = (buf: Buffer, layout: Layout) => ({
  sequence: buf.readUInt32BE(layout.sequence),
  timestamp: buf.readBigUInt64BE(layout.timestamp),
  errorEstimate: buf.readUInt16BE(layout.errorEstimate),
})

/** Reads a Session-Sender packet; unauthenticated packets may be TWAMP-Light-short (≥ 14 octets). */
export function decodeSenderPacket(buf: Buffer, key?: Buffer): Decoded<SenderPacket> {
  const auth = key !== undefined
  const rejected = gate(buf, auth ? AUTH_LENGTH : TWAMP_LIGHT_MIN_SENDER_LENGTH, key)
  if (rejected) return rejected
  const layout = auth ? SENDER_AUTH : SENDER_UNAUTH
  return {
    ok: true,
    value: {
      ...head(buf, layout),
      ssid: layout.ssid !== null && buf.length >= layout.ssid + 2 ? buf.readUInt16BE(layout.ssid) : 0,
    },
  }
}

/** The shortest reflector packet a mode can carry: all fields through the Ses-Sender TTL, plus the HMAC. */
export function minReflectorLength(authenticated: boolean): number {
  return authenticated ? AUTH_LENGTH : TWAMP_LIGHT_MIN_REFLECTOR_LENGTH
}

/**
 * Builds a Session-Reflector packet of exactly `options.length` octets (default: the base size). An
 * unauthenticated one may be 41..43 octets, i.e. a TWAMP-Light reply to a TWAMP-Light request of that
 * size (the trailing MBZ octets are simply not sent).
 */
export function encodeReflectorPacket(p: ReflectorPacket, options: EncodeOptions = {}): Buffer {
  const auth = options.key !== undefined
  const layout = auth ? REFLECTOR_AUTH : REFLECTOR_UNAUTH
  const buf = Buffer.alloc(checkedLength(options, auth ? AUTH_LENGTH : UNAUTH_LENGTH, minReflectorLength(auth)))
  buf.writeUInt32BE(u32(p.sequence, 'sequence'), layout.sequence)
  buf.writeBigUInt64BE(p.timestamp, layout.timestamp)
  buf.writeUInt16BE(u16(p.errorEstimate, 'error estimate'), layout.errorEstimate)
  if (layout.ssid !== null) buf.writeUInt16BE(u16(p.ssid, 'ssid'), layout.ssid)
  buf.writeBigUInt64BE(p.receiveTimestamp, layout.receiveTimestamp)
  buf.writeUInt32BE(u32(p.senderSequence, 'sender sequence'), layout.senderSequence)
  buf.writeBigUInt64BE(p.senderTimestamp, layout.senderTimestamp)
  buf.writeUInt16BE(u16(p.senderErrorEstimate, 'sender error estimate'), layout.senderErrorEstimate)
  if (!Number.isInteger(p.senderTtl) || p.senderTtl < 0 || p.senderTtl > 255) throw new RangeError(`sender TTL ${p.senderTtl} is not a u8`)
  buf.writeUInt8(p.senderTtl, layout.senderTtl)
  if (options.key !== undefined) authenticate(buf, options.key)
  return buf
}

/**
 * Writes the reflector's Timestamp (T3) into an encoded reflector packet and, in authenticated mode,
 * recomputes the HMAC. Lets the reflector read T3 after building the packet, right before sending it.
 */
export function stampReflectorPacket(buf: Buffer, timestamp: NtpTimestamp, key?: Buffer): void {
  buf.writeBigUInt64BE(timestamp, key === undefined ? REFLECTOR_UNAUTH.timestamp : REFLECTOR_AUTH.timestamp)
  if (key !== undefined) authenticate(buf, key)
}

/** Reads a Session-Reflector packet (STAMP, or a TWAMP-Light one of ≥ 41 octets). */
export function decodeReflectorPacket(buf: Buffer, key?: Buffer): Decoded<ReflectorPacket> {
  const auth = key !== undefined
  const rejected = gate(buf, minReflectorLength(auth), key)
  if (rejected) return rejected
  const layout = auth ? REFLECTOR_AUTH : REFLECTOR_UNAUTH
  return {
    ok: true,
    value: {
      ...head(buf, layout),
      ssid: layout.ssid !== null ? buf.readUInt16BE(layout.ssid) : 0,
      receiveTimestamp: buf.readBigUInt64BE(layout.receiveTimestamp),
      senderSequence: buf.readUInt32BE(layout.senderSequence),
      senderTimestamp: buf.readBigUInt64BE(layout.senderTimestamp),
      senderErrorEstimate: buf.readUInt16BE(layout.senderErrorEstimate),
      senderTtl: buf.readUInt8(layout.senderTtl),
    },
  }
}
