// Impairments a scenario can put on a provider and take off again, as commands (pure). They act inside
// the provider's namespace, never on the edge, so the daemon under test sees only their effects:
// - blackout: the provider silently drops everything it would forward (nft); the access link stays up,
//   its gateway still answers ARP — the failure only probes through the provider detect;
// - loss: a random share of forwarded packets dropped both ways (nft numgen; works without netem);
// - carrier-loss: the provider's side of the access veth goes down, so the edge's interface loses carrier
//   (veth reports NO-CARRIER when its peer is down) and the edge gets an RTM_NEWLINK without IFF_LOWER_UP;
// - delay / jitter: netem on both directions, replacing the provider's profile (needs sch_netem: VM lab).
import { IMPAIR_CHAIN, PROVIDER_TABLE, netemSteps, type LabStep } from './build-plan.js'
import type { ProviderName, Topology } from './topology.js'

export type Impairment =
  | { readonly kind: 'blackout' }
  | { readonly kind: 'loss'; readonly percent: number }
  | { readonly kind: 'carrier-loss' }
  | { readonly kind: 'delay'; readonly rttMs: number; readonly jitterMs?: number }
  | { readonly kind: 'jitter'; readonly jitterMs: number }

export class ImpairmentError extends Error {
  override readonly name = 'ImpairmentError'
}

export function describeImpairment(impairment: Impairment): string {
  switch (impairment.kind) {
    case 'blackout':
      return 'blackout'
    case 'loss':
      return `${impairment.percent}% loss`
    case 'carrier-loss':
      return 'carrier loss'
    case 'delay':
      return `delay ${impairment.rttMs} ms rtt ± ${impairment.jitterMs ?? 0} ms`
    case 'jitter':
      return `jitter ± ${impairment.jitterMs} ms`
  }
}

function nftSteps(topology: Topology, provider: ProviderName, what: string, rules: readonly string[]): LabStep[] {
  const script = [`flush chain inet ${PROVIDER_TABLE} ${IMPAIR_CHAIN}`, ...rules.map(r => `add rule inet ${PROVIDER_TABLE} ${IMPAIR_CHAIN} ${r}`)]
  return [
    {
      what: `${provider}: ${what}`,
      request: { argv: ['ip', 'netns', 'exec', topology.namespaces[provider], 'nft', '-f', '-'], input: script.join('\n') + '\n' },
    },
  ]
}

function linkStep(topology: Topology, provider: ProviderName, state: 'up' | 'down'): LabStep {
  const ifname = topology.uplinks[provider].providerIfname
  return {
    what: `${provider}: set ${ifname} ${state}`,
    request: { argv: ['ip', '-n', topology.namespaces[provider], 'link', 'set', ifname, state] },
  }
}

/** True when the impairment needs sch_netem. */
export function needsNetem(impairment: Impairment): boolean {
  return impairment.kind === 'delay' || impairment.kind === 'jitter'
}

export function impairmentSteps(topology: Topology, provider: ProviderName, impairment: Impairment): LabStep[] {
  switch (impairment.kind) {
    case 'blackout':
      return nftSteps(topology, provider, 'blackout', ['drop'])
    case 'loss': {
      const percent = impairment.percent
      if (!(percent >= 0 && percent <= 100)) throw new ImpairmentError(`loss on ${provider}: ${impairment.percent}% is not within 0..100`)
      // In hundredths of a percent, so a noisy link's 0.3 % is 0.3 % and not rounded to 0 or 1 %.
      // numgen's modulus caps the comparison below 100 %: 100 % is a plain drop, 0 % no rule at all.
      const basisPoints = Math.round(percent * 100)
      const rule = basisPoints >= 10_000 ? ['drop'] : basisPoints === 0 ? [] : [`numgen random mod 10000 < ${basisPoints} drop`]
      return nftSteps(topology, provider, `${percent}% loss`, rule)
    }
    case 'carrier-loss':
      return [linkStep(topology, provider, 'down')]
    case 'delay':
      return netemSteps(topology, provider, impairment.rttMs, impairment.jitterMs ?? 0)
    case 'jitter':
      return netemSteps(topology, provider, topology.uplinks[provider].profile.rttMs, impairment.jitterMs)
  }
}

/** Undoes every impairment: empty impairment chain, link up, and (with netem) the provider's profile again. */
export function restoreSteps(topology: Topology, provider: ProviderName, netem: boolean): LabStep[] {
  const { profile } = topology.uplinks[provider]
  return [
    ...nftSteps(topology, provider, 'clear impairments', []),
    linkStep(topology, provider, 'up'),
    ...(netem ? netemSteps(topology, provider, profile.rttMs, profile.jitterMs) : []),
  ]
}
