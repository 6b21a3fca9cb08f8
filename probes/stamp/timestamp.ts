// NTP 64-bit timestamps and the Error Estimate field, as STAMP carries them.
// RFC 8762 §4.2.1: STAMP timestamps default to the NTPv4 64-bit format (RFC 5905 §6): 32 bits of seconds
// since 1900-01-01 and 32 bits of binary fraction. The Error Estimate field is RFC 4656 §4.1.2's:
//   S (1 bit, clock synchronized to UTC externally) | Z (1 bit, RFC 8186: 0 = NTP, 1 = PTPv2 truncated)
//   | Scale (6 bits) | Multiplier (8 bits);  error = Multiplier × 2^(-32) × 2^Scale seconds.

/** The 64-bit NTP timestamp as one unsigned bigint: seconds << 32 | fraction. */
export type NtpTimestamp = bigint

/** Seconds from the NTP era-0 epoch (1900-01-01) to the Unix epoch (1970-01-01): 70 years incl. 17 leap days. */
export const NTP_UNIX_OFFSET_S = 2_208_988_800n
const TWO_32 = 1n << 32n
const NS_PER_S = 1_000_000_000n
const U64_MASK = (1n << 64n) - 1n

/** Unix time in nanoseconds → NTP timestamp (rounded to the nearest 2^-32 s, wrapping at era end). */
export function unixNsToNtp(unixNs: bigint): NtpTimestamp {
  const seconds = unixNs / NS_PER_S + NTP_UNIX_OFFSET_S
  const fraction = ((unixNs % NS_PER_S) * TWO_32 + NS_PER_S / 2n) / NS_PER_S
  return ((seconds << 32n) + fraction) & U64_MASK
}

/** NTP timestamp → Unix nanoseconds (era 0, i.e. 1900–2036, as RFC 5905 §6 leaves era handling to context). */
export function ntpToUnixNs(ntp: NtpTimestamp): bigint {
  const seconds = ntp >> 32n
  const fraction = ntp & (TWO_32 - 1n)
  return (seconds - NTP_UNIX_OFFSET_S) * NS_PER_S + (fraction * NS_PER_S + TWO_32 / 2n) / TWO_32
}

/**
 * b - a in nanoseconds, for two NTP timestamps taken by the same clock. Works across the 64-bit wrap
 * (era rollover in 2036) because the difference is taken modulo 2^64 and read as signed.
 */
export function ntpDiffNs(a: NtpTimestamp, b: NtpTimestamp): bigint {
  let d = (b - a) & U64_MASK
  if (d >= 1n << 63n) d -= 1n << 64n
  // d is in units of 2^-32 s.
  return (d * NS_PER_S) / TWO_32
}

export interface ErrorEstimate {
  /** S: the clock is synchronized to UTC by an external source. */
  readonly synchronized: boolean
  /** Z (RFC 8186 §2.3): 0 = NTP format, 1 = PTPv2 truncated format. */
  readonly ptpFormat: boolean
  readonly scale: number
  /** RFC 4656 §4.1.2: MUST NOT be zero. */
  readonly multiplier: number
}

export function encodeErrorEstimate(e: ErrorEstimate): number {
  if (!Number.isInteger(e.scale) || e.scale < 0 || e.scale > 63) throw new RangeError(`error estimate scale ${e.scale} is not 0..63`)
  if (!Number.isInteger(e.multiplier) || e.multiplier < 1 || e.multiplier > 255) {
    throw new RangeError(`error estimate multiplier ${e.multiplier} is not 1..255`)
  }
  return (e.synchronized ? 0x8000 : 0) | (e.ptpFormat ? 0x4000 : 0) | (e.scale << 8) | e.multiplier
}

export function decodeErrorEstimate(raw: number): ErrorEstimate {
  return { synchronized: (raw & 0x8000) !== 0, ptpFormat: (raw & 0x4000) !== 0, scale: (raw >> 8) & 0x3f, multiplier: raw & 0xff }
}

/** The error bound the field states, in seconds (RFC 4656 §4.1.2). */
export function errorEstimateSeconds(e: ErrorEstimate): number {
  return e.multiplier * 2 ** (e.scale - 32)
}

/**
 * What our timestamps claim: not externally synchronized (S=0), NTP format (Z=0), error 2^-10 s ≈ 1 ms
 * (Scale 22, Multiplier 1). We cannot know how well the host's clock follows UTC, and 1 ms is the
 * honest order of magnitude for an NTP-disciplined host; RTT does not depend on it.
 */
export const OUR_ERROR_ESTIMATE: ErrorEstimate = { synchronized: false, ptpFormat: false, scale: 22, multiplier: 1 }
