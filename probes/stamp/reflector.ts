// The Session-Reflector's decision, pure (RFC 8762 §4.3, stateless mode): given one received datagram,
// either the reply to send or why there is none. The socket shell is reflector-server.ts.
//
// Rules, in the order they are checked (cheapest first, so garbage costs little):
//  1. Too short to be a test packet in this mode → drop (RFC 5357 §4.1.2 minimum 14 octets; RFC 8762
//     §4.2.2 112 octets when authenticated).
//  2. Never amplify: the reply is exactly as long as the request (symmetrical size, RFC 8762 §4.2 /
//     RFC 6038). A request shorter than the shortest reflector packet (41 octets, RFC 5357 §4.2.1) would
//     need a longer reply, so it gets none. TWAMP-Light senders that pad to ≥ 41 octets are answered
//     with a reply of their own size; the 14..40-octet minimum form is counted as 'would-amplify'.
//  3. Per-source rate limit, before the HMAC so a flood cannot buy HMAC computations.
//  4. Authenticated mode: the request's HMAC must verify (RFC 8762 §4.4), else drop.
//  In stateless mode the reflector's Sequence Number is the sender's (RFC 8762 §4.3.1). The SSID is
//  copied back (RFC 8972 §3). Octets past the base packet are returned as zeros (padding).
import { decodeSenderPacket, encodeReflectorPacket, stampReflectorPacket, minReflectorLength, TWAMP_LIGHT_MIN_SENDER_LENGTH, AUTH_LENGTH } from './packet.js'
import { encodeErrorEstimate, OUR_ERROR_ESTIMATE, type NtpTimestamp } from './timestamp.js'
import type { SourceRateLimiter } from './rate-limit.js'

export type DropReason = 'too-short' | 'would-amplify' | 'rate-limited' | 'bad-hmac'
export type ReflectOutcome = { readonly kind: 'reply'; readonly reply: Buffer } | { readonly kind: 'drop'; readonly reason: DropReason }

export interface ReflectorConfig {
  /** HMAC key: the reflector then answers authenticated packets only. */
  readonly authKey?: Buffer | undefined
  /**
   * The Ses-Sender TTL field (RFC 8762 §4.3.1 wants the request's received IP TTL). Node's dgram cannot
   * read the TTL of a received datagram (no IP_RECVTTL), so the shell writes this configured value;
   * 255 unless told otherwise, and documented as a known gap.
   */
  readonly senderTtl: number
}

export interface ReceivedDatagram {
  readonly payload: Buffer
  /** Source address (rate-limit key). */
  readonly source: string
  /** T2: when the datagram was read, as NTP. */
  readonly receivedAt: NtpTimestamp
  /** Monotonic ms, for the rate limiter. */
  readonly nowMs: number
}

/**
 * Decides the reply. `transmitTimestamp` is called last, after the reply is built, so the reply's
 * Timestamp (T3) is as close to the send as the pure core can get.
 */
export function reflect(
  datagram: ReceivedDatagram,
  config: ReflectorConfig,
  limiter: SourceRateLimiter,
  transmitTimestamp: () => NtpTimestamp,
): ReflectOutcome {
  const auth = config.authKey !== undefined
  const length = datagram.payload.length
  if (length < (auth ? AUTH_LENGTH : TWAMP_LIGHT_MIN_SENDER_LENGTH)) return { kind: 'drop', reason: 'too-short' }
  if (length < minReflectorLength(auth)) return { kind: 'drop', reason: 'would-amplify' }
  if (!limiter.allow(datagram.source, datagram.nowMs)) return { kind: 'drop', reason: 'rate-limited' }
  const request = decodeSenderPacket(datagram.payload, config.authKey)
  if (!request.ok) return { kind: 'drop', reason: request.reason }
  const sender = request.value
  const reply = encodeReflectorPacket(
    {
      sequence: sender.sequence,
      timestamp: 0n,
      errorEstimate: encodeErrorEstimate(OUR_ERROR_ESTIMATE),
      ssid: sender.ssid,
      receiveTimestamp: datagram.receivedAt,
      senderSequence: sender.sequence,
      senderTimestamp: sender.timestamp,
      senderErrorEstimate: sender.errorEstimate,
      senderTtl: config.senderTtl,
    },
    { key: config.authKey, length },
  )
  // T3 last: the time spent building the reply is then inside the hold time (T3 − T2) the sender
  // subtracts, not in the RTT it reports.
  stampReflectorPacket(reply, transmitTimestamp(), config.authKey)
  return { kind: 'reply', reply }
}
