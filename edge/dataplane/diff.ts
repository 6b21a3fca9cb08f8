// diff(desired, actual) → the operations that turn the kernel's copy of our objects into the desired
// one. Pure. Order matters and is part of the contract:
//   1. tunnel links, then routes (connected, then via a gateway, then blackholes: a gateway must
//      resolve in its table before the route is accepted), then rules — new paths exist before any
//      rule points at them;
//   2. the nft table — classification into a new class only starts once its rules exist, and a
//      removed class stops being marked before its rules go;
//   3. deletes: rules, then routes, then links — nothing is removed while a rule may still lead to it.
// A re-steered class is one add and one delete of its class rule (plus any changed sticky rules).
import type { DesiredState, Route } from './model.js'
import { greBody, routeBody, routeKey, ruleKey, vxlanBody, type ActualState, type Op } from './ops.js'

const routeRank = (r: Route): number => (r.type === 'blackhole' ? 2 : r.gateway ? 1 : 0)

function byKey<T>(items: readonly T[], key: (t: T) => string): Map<string, T> {
  const m = new Map<string, T>()
  for (const i of items) if (!m.has(key(i))) m.set(key(i), i)
  return m
}

interface LinkOps {
  /** Deletes that must come before every add: the name is wanted again, as another kind of link. */
  first: Op[]
  adds: Op[]
  deletes: Op[]
}

/** Adds (a changed link: delete, then add) for the links wanted, deletes for the ones no longer wanted. */
function linkOps<L extends { name: string }>(want: readonly L[], have: readonly L[], body: (l: L) => string, add: (l: L) => Op, del: (l: L) => Op, anyKind: ReadonlySet<string>, out: LinkOps): void {
  const wanted = byKey(want, l => l.name)
  const held = byKey(have, l => l.name)
  for (const [name, l] of wanted) {
    const h = held.get(name)
    if (h && body(h) === body(l)) continue
    if (h) out.adds.push(del(h))
    out.adds.push(add(l))
  }
  for (const [name, l] of held) if (!wanted.has(name)) (anyKind.has(name) ? out.first : out.deletes).push(del(l))
}

/** `want` null means: remove everything we own (the nft table named by `nftTable`). */
export function diff(want: DesiredState | null, have: ActualState, nftTable: string): Op[] {
  const adds: Op[] = []
  const deletes: Op[] = []
  const nft: Op[] = []

  // A tunnel link's endpoints cannot be changed in place on every kernel (nor a VXLAN's VNI or port
  // on any): a changed link is recreated. A tunnel whose type changed keeps its device name, so the
  // old kind's link goes first.
  const links: LinkOps = { first: [], adds, deletes }
  const anyKind = new Set([...(want?.greLinks ?? []), ...(want?.vxlanLinks ?? [])].map(l => l.name))
  linkOps(want?.greLinks ?? [], have.greLinks, greBody, link => ({ kind: 'add-gre', link }), link => ({ kind: 'del-gre', link }), anyKind, links)
  linkOps(want?.vxlanLinks ?? [], have.vxlanLinks, vxlanBody, link => ({ kind: 'add-vxlan', link }), link => ({ kind: 'del-vxlan', link }), anyKind, links)
  adds.unshift(...links.first)

  // Deleting a device takes every route through it along (fib_sync_down_dev, rt6_sync_down_dev): the
  // routes through a recreated link are added again, whatever the dump said.
  const recreated = new Set(adds.flatMap(op => (op.kind === 'del-gre' || op.kind === 'del-vxlan' ? [op.link.name] : [])))

  // The very same array on both sides (the reconciler's record of a state it reached) has no changes.
  const routeDeletes: Op[] = []
  if (want?.routes !== have.routes || recreated.size > 0) {
    const wantRoutes = byKey(want?.routes ?? [], routeKey)
    const haveRoutes = byKey(have.routes.filter(r => r.device === undefined || !recreated.has(r.device)), routeKey)
    const routeAdds = [...wantRoutes.values()].flatMap((r): Op[] => {
      const h = haveRoutes.get(routeKey(r))
      if (!h) return [{ kind: 'add-route', route: r }]
      return routeBody(h) === routeBody(r) ? [] : [{ kind: 'replace-route', route: r }]
    })
    routeAdds.sort((a, b) => routeRank((a as { route: Route }).route) - routeRank((b as { route: Route }).route))
    adds.push(...routeAdds)
    for (const [k, r] of haveRoutes) if (!wantRoutes.has(k)) routeDeletes.push({ kind: 'del-route', route: r })
  }

  const ruleDeletes: Op[] = []
  if (want?.rules !== have.rules) {
    const wantRules = byKey(want?.rules ?? [], ruleKey)
    const haveRules = byKey(have.rules, ruleKey)
    for (const [k, r] of wantRules) if (!haveRules.has(k)) adds.push({ kind: 'add-rule', rule: r })
    for (const [k, r] of haveRules) if (!wantRules.has(k)) ruleDeletes.push({ kind: 'del-rule', rule: r })
  }

  if (want && want.nftDigest !== have.nftDigest) nft.push({ kind: 'load-nft', table: want.nftTable, text: want.nft, digest: want.nftDigest })
  if (!want && have.nftDigest !== null) nft.push({ kind: 'delete-nft', table: nftTable })

  deletes.unshift(...ruleDeletes, ...routeDeletes)
  return [...adds, ...nft, ...deletes]
}
