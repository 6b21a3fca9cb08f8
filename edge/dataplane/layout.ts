// Where each policy object lands in the kernel objects we own: path and class ids, tables, rule
// priorities. Pure; the same policy always gives the same layout, so ids are stable across restarts
// (a crashed daemon's conntrack marks still mean the same paths when it comes back).
import type { SitePolicy } from '../config/policy.js'
import type { ClassInfo, MarkLayout, PathInfo } from './model.js'
import { LayoutError } from './errors.js'
import { dropPathId, hex32, maxClassId } from './marks.js'
import { markLayout } from '../config/ownership.js'

/** The kernel device of a tunnel path; the schema caps tunnel names at 12 so this fits IFNAMSIZ (15). */
export const tunnelDevice = (tunnelName: string): string => `sw-${tunnelName}`

export const DROP_PATH = 'drop'

/** The three fib rule priorities we use, in lookup order, inside the owned range. */
export interface RulePriorities {
  /** `from <uplink address> lookup <uplink table>`: the box's own traffic stays on its uplink. */
  uplinkSource: number
  /** `fwmark class|path/mask lookup <path table>`: existing flows keep their path. */
  sticky: number
  /** `fwmark class/classmask lookup <active path table>`: new flows of a class. */
  classDefault: number
}

export interface Layout {
  paths: PathInfo[]
  classes: ClassInfo[]
  marks: MarkLayout
  priorities: RulePriorities
  /** Every table id we use (paths and drop), for ownership checks. */
  tables: number[]
}

export function layout(policy: SitePolicy): Layout {
  const dp = policy.dataplane
  const marks = markLayout(dp.fwmarkMask)
  if (!marks) throw new LayoutError(`fwmark mask ${hex32(dp.fwmarkMask)} is not one contiguous run of at least 2 bits`)
  const drop = dropPathId(marks)
  const tableOf = (id: number): number => {
    const table = dp.tables.from + id
    if (table > dp.tables.to)
      throw new LayoutError(`path id ${id} needs table ${table}, outside the owned range ${dp.tables.from}-${dp.tables.to}`)
    return table
  }
  const paths: PathInfo[] = []
  for (const u of policy.uplinks) {
    const id = paths.length + 1
    paths.push({ name: u.name, kind: 'direct', id, table: tableOf(id), uplink: u.name, device: u.interface })
  }
  for (const t of policy.tunnels) {
    const id = paths.length + 1
    paths.push({ name: t.name, kind: 'tunnel', id, table: tableOf(id), uplink: t.uplink, tunnel: t.name, device: tunnelDevice(t.name) })
  }
  if (paths.length >= drop)
    throw new LayoutError(`${paths.length} paths (uplinks + tunnels) need ids up to ${paths.length}, but the fwmark path field tops out at ${drop - 1} (${drop} is the drop path); widen dataplane.fwmarkMask`)
  paths.push({ name: DROP_PATH, kind: 'drop', id: drop, table: tableOf(drop) })

  const classes = policy.classes.map((c, i) => ({ name: c.name, id: i + 1 }))
  if (classes.length > maxClassId(marks))
    throw new LayoutError(`${classes.length} classes, but the fwmark class field holds ${maxClassId(marks)}; widen dataplane.fwmarkMask`)

  const { from, to } = dp.rulePriorities
  if (to - from < 2) throw new LayoutError(`rule priority range ${from}-${to} is too small; 3 priorities are needed`)
  const priorities = { uplinkSource: from, sticky: from + 1, classDefault: from + 2 }
  return { paths, classes, marks, priorities, tables: paths.map(p => p.table) }
}

export function pathByName(l: Layout, name: string): PathInfo {
  const p = l.paths.find(x => x.name === name)
  if (!p) throw new LayoutError(`no path named '${name}'`)
  return p
}
