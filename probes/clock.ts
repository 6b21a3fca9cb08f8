// The probe clock: one monotonic high-resolution timebase for every interval we measure (RTT, silence,
// timeouts), plus NTP-format wall timestamps for the STAMP Timestamp fields.
//
// RTT is T4 - T1 on the sender's own monotonic clock, so it is immune to wall-clock steps and slews.
// `process.hrtime` reads CLOCK_MONOTONIC, which is process-wide: the probe I/O thread (native/probe_io.c)
// stamps T1 and T4 on the same clock, so they compare directly with a `now` taken on the main thread
// (unlike `performance.now()`, whose origin is per thread).
import { performance } from 'node:perf_hooks'
import { unixNsToNtp, type NtpTimestamp } from './stamp/timestamp.js'

export interface ProbeClock {
  /** Monotonic nanoseconds (arbitrary origin, shared by all threads of the process). */
  monotonicNs(): bigint
  /** Wall time as an NTP 64-bit timestamp (RFC 5905 §6), for STAMP Timestamp fields. */
  ntpNow(): NtpTimestamp
  /** The wall time, as ntpNow() reports it, at monotonic time `monoNs` (a probe's send time, planned ahead). */
  ntpAt(monoNs: bigint): NtpTimestamp
}

/** Monotonic milliseconds with sub-millisecond resolution; the timebase of PathMetrics and pathHealth. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/**
 * The system clock. Wall time is anchored once to the system clock and then advanced by the monotonic
 * clock, so successive STAMP timestamps never go backwards and have nanosecond resolution (Date.now()
 * has only milliseconds). The anchor may drift from UTC by the system clock's slew rate (≤ 500 ppm);
 * that affects one-way figures only, which we do not use without external sync (S bit 0).
 */
export function systemClock(): ProbeClock {
  const anchorMono = process.hrtime.bigint()
  const anchorWallNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n
  const ntpAt = (monoNs: bigint): NtpTimestamp => unixNsToNtp(anchorWallNs + (monoNs - anchorMono))
  return {
    monotonicNs: () => process.hrtime.bigint(),
    ntpNow: () => ntpAt(process.hrtime.bigint()),
    ntpAt,
  }
}
