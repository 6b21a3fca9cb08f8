// NTP 64-bit timestamps (RFC 5905 §6) and the Error Estimate field (RFC 4656 §4.1.2), by table.
import t from 'tap'
import {
  decodeErrorEstimate, encodeErrorEstimate, errorEstimateSeconds, ntpDiffNs, ntpToUnixNs, unixNsToNtp,
} from '../../../probes/stamp/timestamp.js'

t.test('Unix ns → NTP', async t => {
  const cases: [string, bigint, bigint][] = [
    ['Unix epoch is NTP second 2208988800 (0x83AA7E80)', 0n, 0x83aa7e80_00000000n],
    ['half a second is fraction 2^31', 500_000_000n, 0x83aa7e80_80000000n],
    ['one second later', 1_000_000_000n, 0x83aa7e81_00000000n],
    ['1 ns rounds to 4 units of 2^-32 s', 1n, 0x83aa7e80_00000004n],
    ['2020-03-01T00:00:00Z', 1_583_020_800_000_000_000n, BigInt(1_583_020_800 + 2_208_988_800) << 32n],
  ]
  for (const [name, unix, ntp] of cases) t.equal(unixNsToNtp(unix), ntp, name)
})

t.test('NTP → Unix ns round-trips within rounding', async t => {
  for (const ns of [0n, 1n, 123_456_789n, 1_700_000_000_123_456_789n]) {
    const back = ntpToUnixNs(unixNsToNtp(ns))
    t.ok(back - ns <= 1n && ns - back <= 1n, `${ns} ns comes back as ${back}`)
  }
})

t.test('ntpDiffNs is signed and survives the 2036 era wrap', async t => {
  t.equal(ntpDiffNs(0x83aa7e80_00000000n, 0x83aa7e81_00000000n), 1_000_000_000n)
  t.equal(ntpDiffNs(0x83aa7e81_00000000n, 0x83aa7e80_00000000n), -1_000_000_000n)
  t.equal(ntpDiffNs(0xffffffff_80000000n, 0x00000000_80000000n), 1_000_000_000n, 'across the wrap')
})

t.test('Error Estimate field', async t => {
  const cases: [string, Parameters<typeof encodeErrorEstimate>[0], number][] = [
    ['S=1 Z=0 scale 0 mult 1', { synchronized: true, ptpFormat: false, scale: 0, multiplier: 1 }, 0x8001],
    ['S=0 Z=1 (PTP, RFC 8186) scale 63 mult 255', { synchronized: false, ptpFormat: true, scale: 63, multiplier: 255 }, 0x7fff],
    ['ours: S=0 Z=0 scale 22 mult 1', { synchronized: false, ptpFormat: false, scale: 22, multiplier: 1 }, 0x1601],
  ]
  for (const [name, e, raw] of cases) {
    t.equal(encodeErrorEstimate(e), raw, name)
    t.same(decodeErrorEstimate(raw), e, `${name} decodes`)
  }
  t.equal(errorEstimateSeconds({ synchronized: false, ptpFormat: false, scale: 32, multiplier: 3 }), 3)
  t.throws(() => encodeErrorEstimate({ synchronized: false, ptpFormat: false, scale: 1, multiplier: 0 }), /multiplier 0/)
  t.throws(() => encodeErrorEstimate({ synchronized: false, ptpFormat: false, scale: 64, multiplier: 1 }), /scale 64/)
})
