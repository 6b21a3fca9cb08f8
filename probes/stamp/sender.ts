// The Session-Sender side of one STAMP session (RFC 8762 §4.2): numbers the test packets, remembers
// when each left, and turns a reflected packet into a round-trip time. Pure: the caller passes the
// monotonic and NTP times; nothing here reads a clock or touches a socket.
//
// RTT = (T4 − T1) − (T3 − T2)   (RFC 8762 §4.3: T1 sent, T2 received by the reflector, T3 reflected,
// T4 received back). T4 − T1 is on our monotonic clock; T3 − T2 is the reflector's hold time, on the
// reflector's clock, which cancels its offset. A hold time that is negative or longer than T4 − T1 is
// nonsense (bad reflector clock) and is ignored rather than trusted.
import { decodeReflectorPacket, encodeSenderPacket, type DecodeFailure } from './packet.js'
import { encodeErrorEstimate, ntpDiffNs, OUR_ERROR_ESTIMATE, type NtpTimestamp } from './timestamp.js'

export interface SenderSessionOptions {
  readonly authKey?: Buffer | undefined
  /** RFC 8972 §3 Session-Sender Identifier (unauthenticated mode only); 0 = none. */
  readonly ssid?: number
  /** Test packet length; default the base packet (44 / 112). Use ≥ 41 for TWAMP-Light reflectors. */
  readonly length?: number | undefined
  /** How many sent probes to remember for matching late replies and duplicates. */
  readonly remember: number
}

export type MatchFailure = DecodeFailure | 'unknown-sequence' | 'timestamp-mismatch'

export type Match =
  | { readonly ok: true; readonly seq: number; readonly rttMs: number; readonly reflectorHoldMs: number; readonly sentAtNs: bigint }
  | { readonly ok: false; readonly reason: MatchFailure; readonly detail: string }

interface Sent {
  readonly ntp: NtpTimestamp
  monoNs: bigint | null
}

export class SenderSession {
  readonly #options: SenderSessionOptions
  readonly #sent = new Map<number, Sent>()
  readonly #errorEstimate = encodeErrorEstimate(OUR_ERROR_ESTIMATE)
  #next = 0

  constructor(options: SenderSessionOptions) {
    this.#options = options
  }

  /**
   * Builds the next test packet with `ntp` (wall time) in its Timestamp field. Call `departed` with T1
   * right before handing it to the socket, so building the packet is not part of the RTT.
   */
  next(ntp: NtpTimestamp): { seq: number; packet: Buffer } {
    const seq = this.#next
    this.#next = (this.#next + 1) >>> 0
    const packet = encodeSenderPacket(
      { sequence: seq, timestamp: ntp, errorEstimate: this.#errorEstimate, ssid: this.#options.ssid ?? 0 },
      { key: this.#options.authKey, length: this.#options.length },
    )
    this.#sent.set(seq, { ntp, monoNs: null })
    while (this.#sent.size > this.#options.remember) this.#sent.delete(this.#sent.keys().next().value!)
    return { seq, packet }
  }

  /** T1: probe `seq` is leaving now (monotonic ns). */
  departed(seq: number, monoNs: bigint): void {
    const sent = this.#sent.get(seq)
    if (sent) sent.monoNs = monoNs
  }

  /** Reads a reflected packet received at `monoNs` and works out its RTT. */
  match(reply: Buffer, monoNs: bigint): Match {
    const decoded = decodeReflectorPacket(reply, this.#options.authKey)
    if (!decoded.ok) return decoded
    const r = decoded.value
    const sent = this.#sent.get(r.senderSequence)
    if (!sent || sent.monoNs === null) return { ok: false, reason: 'unknown-sequence', detail: `no probe ${r.senderSequence} outstanding` }
    // The echoed timestamp must be the one we sent: rejects stale replies from an earlier session that
    // reused the port, and (unauthenticated) blind spoofing that only guessed the sequence number.
    if (r.senderTimestamp !== sent.ntp) {
      return { ok: false, reason: 'timestamp-mismatch', detail: `probe ${r.senderSequence}: echoed timestamp is not the one sent` }
    }
    const roundTripNs = monoNs - sent.monoNs
    const holdNs = ntpDiffNs(r.receiveTimestamp, r.timestamp)
    const usableHold = holdNs >= 0n && holdNs < roundTripNs ? holdNs : 0n
    return {
      ok: true,
      seq: r.senderSequence,
      rttMs: Number(roundTripNs - usableHold) / 1e6,
      reflectorHoldMs: Number(usableHold) / 1e6,
      sentAtNs: sent.monoNs,
    }
  }
}
