// What each provider looks like on the wire, as netem parameters. Figures are round-trip, typical of a
// healthy link of that kind: DSL/cable ~15 ms, LTE ~45 ms with a few ms of jitter (scheduling grants and
// HARQ retransmissions vary per packet), MPLS ~8 ms with almost none (a provisioned, policed path).

export interface ProviderProfile {
  readonly label: string
  /** Mean round-trip delay the provider adds. */
  readonly rttMs: number
  /** Round-trip jitter (netem's per-packet random variation, both directions together). */
  readonly jitterMs: number
}

export const PROVIDER_PROFILES = {
  bb: { label: 'broadband', rttMs: 15, jitterMs: 1 },
  lte: { label: 'LTE', rttMs: 45, jitterMs: 8 },
  mpls: { label: 'MPLS', rttMs: 8, jitterMs: 0.2 },
} as const satisfies Record<string, ProviderProfile>

/**
 * netem arguments for one direction. The provider namespace delays each direction on its egress
 * interface, so each gets half the round trip; jitter is split the same way.
 */
export function netemArgs(rttMs: number, jitterMs: number): string[] {
  const half = (value: number) => `${Math.round(value * 500) / 1000}ms`
  const delay = ['delay', half(rttMs)]
  return jitterMs > 0 ? [...delay, half(jitterMs), 'distribution', 'normal'] : delay
}
