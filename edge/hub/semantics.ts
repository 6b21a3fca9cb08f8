// Checks a hub policy that already has the schema's shape for what a schema cannot say: duplicate
// spokes, tunnel names, ids and IKE identities; inner addressing; prefixes that overlap between spokes
// or with the data centre; files that do not exist. Pure: the caller says which files are missing.
import type { PolicyProblem } from '../config/errors.js'
import { contains, formatPrefix, hasHostBits, networkOf, overlaps, parseAddress, parsePrefix, type Prefix } from '../net/prefix.js'
import { spokeTunnels, type HubPolicy } from './policy.js'

type Add = (pointer: string, message: string) => void

/** Every file the policy names, with the pointer of the field naming it. */
export function namedFiles(policy: HubPolicy): Array<{ path: string; pointer: string }> {
  const files: Array<{ path: string; pointer: string }> = []
  if (policy.certificate) {
    files.push({ path: policy.certificate.certFile, pointer: '/certificate/certFile' })
    files.push({ path: policy.certificate.keyFile, pointer: '/certificate/keyFile' })
  }
  if (policy.reflector.authKeyFile) files.push({ path: policy.reflector.authKeyFile, pointer: '/reflector/authKeyFile' })
  for (const { tunnel, pointer } of spokeTunnels(policy)) {
    if ('pskFile' in tunnel.auth) files.push({ path: tunnel.auth.pskFile, pointer: `${pointer}/auth/pskFile` })
    else files.push({ path: tunnel.auth.caFile, pointer: `${pointer}/auth/caFile` })
  }
  return files
}

export function checkHubSemantics(policy: HubPolicy, missingFiles: ReadonlySet<string>): PolicyProblem[] {
  const problems: PolicyProblem[] = []
  const add: Add = (pointer, message) => void problems.push({ pointer, message })
  checkIdentities(policy, add)
  checkPrefixes(policy, add)
  checkInner(policy, add)
  for (const f of namedFiles(policy)) if (missingFiles.has(f.path)) add(f.pointer, `file ${f.path} does not exist (or cannot be read)`)
  return problems
}

/** Remembers the first pointer of each value; reports later repeats. */
function firstOf(add: Add, what: string): (value: string, pointer: string) => void {
  const seen = new Map<string, string>()
  return (value, pointer) => {
    const first = seen.get(value)
    if (first !== undefined) add(pointer, `duplicate ${what} ${value} (first at ${first})`)
    else seen.set(value, pointer)
  }
}

function checkIdentities(policy: HubPolicy, add: Add): void {
  const spoke = firstOf(add, 'spoke device')
  policy.spokes.forEach((s, i) => {
    spoke(`'${s.device}'`, `/spokes/${i}/device`)
    const name = firstOf(add, `tunnel name of spoke '${s.device}':`)
    s.tunnels.forEach((t, ti) => name(`'${t.name}'`, `/spokes/${i}/tunnels/${ti}/name`))
  })
  const id = firstOf(add, 'tunnel id')
  const ike = firstOf(add, 'IKE identity')
  for (const { tunnel, pointer } of spokeTunnels(policy)) {
    id(String(tunnel.id), `${pointer}/id`)
    if (tunnel.ikeId === policy.ikeId) add(`${pointer}/ikeId`, `'${tunnel.ikeId}' is the hub's own IKE identity; the spoke needs one of its own`)
    else ike(`'${tunnel.ikeId}'`, `${pointer}/ikeId`)
    if ('caFile' in tunnel.auth && !policy.certificate) {
      add(`${pointer}/auth`, `X.509 auth needs the hub's own certificate: add certificate.certFile and certificate.keyFile`)
    }
  }
}

function hostBits(text: string, pointer: string, add: Add): Prefix | undefined {
  const p = parsePrefix(text)
  if (!p) return undefined
  if (hasHostBits(p)) {
    add(pointer, `'${text}' has host bits set; did you mean ${formatPrefix(networkOf(p))}?`)
    return undefined
  }
  return p
}

function checkPrefixes(policy: HubPolicy, add: Add): void {
  const dc = policy.dcPrefixes.flatMap((text, i) => {
    const p = hostBits(text, `/dcPrefixes/${i}`, add)
    return p ? [{ p, pointer: `/dcPrefixes/${i}` }] : []
  })
  // A spoke's tunnels all lead to the same LAN, so they may repeat its prefixes; two spokes may not share.
  const owners: Array<{ p: Prefix; spoke: string; pointer: string }> = []
  for (const { spoke, tunnel, pointer } of spokeTunnels(policy)) {
    tunnel.lanPrefixes.forEach((text, i) => {
      const at = `${pointer}/lanPrefixes/${i}`
      const p = hostBits(text, at, add)
      if (!p) return
      const inDc = dc.find(d => overlaps(d.p, p))
      if (inDc) add(at, `${text} overlaps the data centre's ${formatPrefix(inDc.p)} (${inDc.pointer})`)
      const other = owners.find(o => o.spoke !== spoke.device && overlaps(o.p, p))
      if (other) add(at, `${text} overlaps ${formatPrefix(other.p)} of spoke '${other.spoke}' (${other.pointer}); replies could not tell the spokes apart`)
      owners.push({ p, spoke: spoke.device, pointer: at })
    })
  }
}

function checkInner(policy: HubPolicy, add: Add): void {
  const subnets: Array<{ p: Prefix; pointer: string }> = []
  const lan = spokeTunnels(policy).flatMap(({ tunnel }) => tunnel.lanPrefixes.flatMap(t => parsePrefix(t) ?? []))
  const dc = policy.dcPrefixes.flatMap(t => parsePrefix(t) ?? [])
  for (const { tunnel, pointer } of spokeTunnels(policy)) {
    for (const [lk, rk, fam] of [['local', 'remote', 4], ['local6', 'remote6', 6]] as const) {
      const l = tunnel.inner[lk]
      const r = tunnel.inner[rk]
      if (Boolean(l) !== Boolean(r)) add(`${pointer}/inner`, `inner.${lk} and inner.${rk} go together`)
      if (!l || !r) continue
      const lp = parsePrefix(l)!
      const ra = parseAddress(r)!
      const at = `${pointer}/inner/${lk}`
      if (lp.family !== fam) {
        add(at, `'${l}' is not an IPv${fam} address`)
        continue
      }
      if (ra.family !== fam) {
        add(`${pointer}/inner/${rk}`, `'${r}' is not an IPv${fam} address`)
        continue
      }
      const subnet = networkOf(lp)
      if (ra.value === lp.value) add(`${pointer}/inner/${rk}`, `inner.${rk} is the hub's own inner address`)
      else if (!contains(subnet, { family: fam, value: ra.value, length: fam === 4 ? 32 : 128 })) {
        add(`${pointer}/inner/${rk}`, `${r} is outside the hub's inner subnet ${formatPrefix(subnet)}; the spoke's inner address must be on it`)
      }
      const clash = subnets.find(s => overlaps(s.p, subnet))
      if (clash) add(at, `inner subnet ${formatPrefix(subnet)} overlaps ${formatPrefix(clash.p)} (${clash.pointer}); each tunnel needs its own`)
      else subnets.push({ p: subnet, pointer: at })
      const elsewhere = [...lan, ...dc].find(p => overlaps(p, subnet))
      if (elsewhere) add(at, `inner subnet ${formatPrefix(subnet)} overlaps the LAN or data-centre prefix ${formatPrefix(elsewhere)}`)
    }
  }
}
