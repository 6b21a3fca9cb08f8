// The state reached after applying ops: the dumped state with every successful op folded in. Pure;
// saves a second dump after each apply (what the kernel accepted is exactly what it now holds).
import { greBody, routeKey, ruleKey, type ActualState, type Op } from './ops.js'

export function fold(state: ActualState, op: Op): ActualState {
  switch (op.kind) {
    case 'add-rule':
      return state.rules.some(r => ruleKey(r) === ruleKey(op.rule)) ? state : { ...state, rules: [...state.rules, { ...op.rule, comment: '' }] }
    case 'del-rule':
      return { ...state, rules: state.rules.filter(r => ruleKey(r) !== ruleKey(op.rule)) }
    case 'add-route':
    case 'replace-route':
      return { ...state, routes: [...state.routes.filter(r => routeKey(r) !== routeKey(op.route)), { ...op.route, comment: '' }] }
    case 'del-route':
      return { ...state, routes: state.routes.filter(r => routeKey(r) !== routeKey(op.route)) }
    case 'add-gre':
      return { ...state, greLinks: [...state.greLinks.filter(l => l.name !== op.link.name), op.link] }
    case 'del-gre':
      return { ...state, greLinks: state.greLinks.filter(l => !(l.name === op.link.name && greBody(l) === greBody(op.link))) }
    case 'load-nft':
      return { ...state, nftDigest: op.digest }
    case 'delete-nft':
      return { ...state, nftDigest: null }
  }
}
