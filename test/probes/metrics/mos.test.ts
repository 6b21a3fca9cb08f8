// The simplified G.107 E-model (probes/metrics/mos.ts), against values worked out by hand.
import t from 'tap'
import { estimateMos, mosFromR, rFactor } from '../../../probes/metrics/mos.js'

t.test('R → MOS (G.107 Annex B)', async t => {
  const cases: [number, number][] = [
    [-5, 1], [0, 1], [50, 1 + 1.75 + 7e-6 * 50 * -10 * 50], [100, 4.5], [120, 4.5],
    [93.2, 1 + 0.035 * 93.2 + 7e-6 * 93.2 * 33.2 * 6.8],
  ]
  for (const [r, mos] of cases) t.ok(Math.abs(mosFromR(r) - mos) < 1e-9, `R ${r} → MOS ${mos.toFixed(3)}`)
})

t.test('R from path figures', async t => {
  const cases: [string, number, number, number, number][] = [
    // d = 0/2 + 0 + 10 = 10 → Id = 0.24 → R = 92.96
    ['perfect path', 0, 0, 0, 92.96],
    // d = 100 + 20 + 10 = 130 → Id = 3.12 → R = 90.08
    ['200 ms RTT, 10 ms jitter', 200, 10, 0, 90.08],
    // d = 200 + 0 + 10 = 210 → Id = 5.04 + 0.11 × 32.7 = 8.637 → R = 84.563
    ['400 ms RTT: past the 177.3 ms knee', 400, 0, 0, 84.563],
    // Ie,eff = 95 × 1 / (1 + 25.1) = 3.6398 → R = 92.96 − 3.6398
    ['1 % random loss, G.711 with PLC', 0, 0, 1, 92.96 - 95 / 26.1],
  ]
  for (const [name, rtt, jitter, loss, r] of cases) t.ok(Math.abs(rFactor(rtt, jitter, loss) - r) < 1e-3, `${name}: R ≈ ${r}`)
  t.ok(estimateMos(20, 1, 0) > estimateMos(20, 1, 5), 'loss lowers MOS')
  t.ok(estimateMos(20, 1, 0) > estimateMos(300, 1, 0), 'delay lowers MOS')
  t.equal(estimateMos(10_000, 0, 100), 1, 'a useless path scores 1')
})
