// A voice-quality estimate from path metrics: ITU-T G.107 E-model, simplified the usual way for network
// monitoring (after Cole & Rosenbluth, "Voice over IP performance monitoring", 2001), for G.711 with
// packet-loss concealment and a 20 ms packetization:
//
//   effective one-way delay  d  = RTT/2 + 2 × jitter + 10 ms        (jitter buffer ≈ 2 × jitter, codec 10 ms)
//   delay impairment         Id = 0.024 d + 0.11 (d − 177.3) H(d − 177.3)   (H = unit step)
//   equipment impairment     Ie,eff = Ie + (95 − Ie) × Ppl / (Ppl + Bpl)   (G.107 §7.2 with BurstR = 1;
//                            G.711 + PLC: Ie = 0, Bpl = 25.1 per G.113 Appendix I)
//   R = 93.2 − Id − Ie,eff   (default R0 − Is = 93.2; no advantage factor)
//   MOS = 1 + 0.035 R + 7·10⁻⁶ R (R − 60)(100 − R), clamped to 1 for R < 0 and 4.5 for R > 100 (G.107 Annex B)
//
// It is an estimate for ranking paths for voice, not a listening test: loss is taken as random (BurstR
// 1), and RTT/2 assumes a symmetric path.

const IE_G711 = 0
const BPL_G711_PLC = 25.1

export function rFactor(rttMs: number, jitterMs: number, lossPct: number): number {
  const d = rttMs / 2 + 2 * jitterMs + 10
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0)
  const ppl = Math.min(100, Math.max(0, lossPct))
  const ieEff = IE_G711 + ((95 - IE_G711) * ppl) / (ppl + BPL_G711_PLC)
  return 93.2 - id - ieEff
}

export function mosFromR(r: number): number {
  if (r <= 0) return 1
  if (r >= 100) return 4.5
  return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)
}

export function estimateMos(rttMs: number, jitterMs: number, lossPct: number): number {
  return mosFromR(rFactor(rttMs, jitterMs, lossPct))
}
