// The state reached after applying ops: the dumped state with every successful op folded in. Pure;
// saves a second dump after each apply (what the kernel accepted is exactly what it now holds).
// Keyed maps keep it linear: a full apply folds thousands of ops.
import { greBody, routeKey, ruleKey, vxlanBody, type ActualState, type Op } from './ops.js'

export function foldAll(state: ActualState, ops: readonly Op[]): ActualState {
  const touchesRules = ops.some(o => o.kind.endsWith('-rule'))
  const touchesRoutes = ops.some(o => o.kind.endsWith('-route'))
  const rules = new Map(touchesRules ? state.rules.map(r => [ruleKey(r), r]) : [])
  const routes = new Map(touchesRoutes ? state.routes.map(r => [routeKey(r), r]) : [])
  let greLinks = state.greLinks
  let vxlanLinks = state.vxlanLinks
  let nftDigest = state.nftDigest
  for (const op of ops) {
    switch (op.kind) {
      case 'add-rule':
        if (!rules.has(ruleKey(op.rule))) rules.set(ruleKey(op.rule), { ...op.rule, comment: '' })
        break
      case 'del-rule':
        rules.delete(ruleKey(op.rule))
        break
      case 'add-route':
      case 'replace-route':
        routes.delete(routeKey(op.route))
        routes.set(routeKey(op.route), { ...op.route, comment: '' })
        break
      case 'del-route':
        routes.delete(routeKey(op.route))
        break
      case 'add-gre':
        greLinks = [...greLinks.filter(l => l.name !== op.link.name), op.link]
        break
      case 'del-gre':
        greLinks = greLinks.filter(l => !(l.name === op.link.name && greBody(l) === greBody(op.link)))
        break
      case 'add-vxlan':
        vxlanLinks = [...vxlanLinks.filter(l => l.name !== op.link.name), op.link]
        break
      case 'del-vxlan':
        vxlanLinks = vxlanLinks.filter(l => !(l.name === op.link.name && vxlanBody(l) === vxlanBody(op.link)))
        break
      case 'load-nft':
        nftDigest = op.digest
        break
      case 'delete-nft':
        nftDigest = null
        break
    }
  }
  return {
    rules: touchesRules ? [...rules.values()] : state.rules,
    routes: touchesRoutes ? [...routes.values()] : state.routes,
    greLinks,
    vxlanLinks,
    nftDigest,
  }
}

export const fold = (state: ActualState, op: Op): ActualState => foldAll(state, [op])
