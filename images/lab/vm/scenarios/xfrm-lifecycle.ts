// Judges what xfrm-interface-child.ts printed: one xfrm interface created, left alone when asked again,
// changed in place (MTU, one more address), replaced for a new if_id and underlay, refused over a link of
// another kind, removed (twice, the second a no-op). Pure; returns the problems, none when all held.
import type { XfrmInterface } from '../../../../edge/dataplane/ipsec/xfrm-interface.js'

export type XfrmChildSteps = Record<string, readonly XfrmInterface[]>
export type XfrmChildResult = { readonly missing: string } | { readonly steps: XfrmChildSteps; readonly clash: string }

export function checkXfrmLifecycle(result: Extract<XfrmChildResult, { steps: unknown }>): string[] {
  const problems: string[] = []
  const one = (step: string): XfrmInterface | undefined => {
    const found = result.steps[step] ?? []
    if (found.length !== 1 || found[0]!.name !== 'sw-xt') problems.push(`${step}: expected just sw-xt, got ${JSON.stringify(found)}`)
    return found[0]
  }
  // The kernel gives the interface an IPv6 link-local address of its own (addrconf, random for ARPHRD_NONE).
  const ours = (addresses: readonly string[]): string[] => addresses.filter(a => !/^fe80:/i.test(a))
  const expect = (step: string, want: Partial<Omit<XfrmInterface, 'addresses'>> & { addresses?: string[] }): void => {
    const got = one(step)
    if (!got) return
    for (const [key, value] of Object.entries(want)) {
      const actual = key === 'addresses' ? ours(got.addresses) : (got as unknown as Record<string, unknown>)[key]
      const same = Array.isArray(value) ? JSON.stringify([...(actual as string[])].sort()) === JSON.stringify([...value].sort()) : actual === value
      if (!same) problems.push(`${step}: ${key} is ${JSON.stringify(actual)}, expected ${JSON.stringify(value)}`)
    }
  }
  expect('created', { ifId: 7, link: 0, mtu: 1438, up: true, addresses: ['10.77.0.1/30'] })
  const created = result.steps.created?.[0]
  expect('again', { index: created?.index ?? -1, ifId: 7, mtu: 1438, addresses: ['10.77.0.1/30'] })
  expect('changed', { index: created?.index ?? -1, ifId: 7, mtu: 1400, addresses: ['10.77.0.1/30', '10.77.1.1/32'] })
  expect('replaced', { ifId: 8, link: 1, mtu: 1438, up: true, addresses: ['10.77.0.1/30'] })
  if (result.steps.replaced?.[0]?.index === created?.index) problems.push('replaced: the interface kept its index, so it was not recreated')
  if (!/xfrm interface lo: create failed \(EEXIST: a link of another kind has the name\)/.test(result.clash)) problems.push(`clash: ${result.clash}`)
  if ((result.steps.removed ?? []).length !== 0) problems.push(`removed: ${JSON.stringify(result.steps.removed)}`)
  return problems
}
