// Typed views of the IKE_SA / CHILD_SA sections charon sends in list-sa, ike-updown and child-updown
// events (strongSwan vici README, "list-sa" and "child-updown"). Pure. The raw section is kept alongside
// so callers can read fields we do not type.
import { ViciProtocolError } from './errors.js'
import type { ViciMessage, ViciValue } from './message.js'

export interface ChildSaState {
  /** The CHILD_SA config name (the section key is `<name>-<uniqueid>` since strongSwan 5.3; `name` is the config name). */
  readonly name: string
  readonly uniqueId: string
  readonly state: string
  readonly mode: string
  readonly encap: boolean
  readonly localTs: readonly string[]
  readonly remoteTs: readonly string[]
  readonly bytesIn: number
  readonly bytesOut: number
  readonly packetsIn: number
  readonly packetsOut: number
  readonly raw: ViciMessage
}

export interface IkeSaState {
  /** The IKE_SA config name (the connection name given to load-conn). */
  readonly name: string
  readonly uniqueId: string
  readonly state: string
  readonly localHost: string
  readonly remoteHost: string
  readonly localId: string
  readonly remoteId: string
  readonly initiator: boolean
  readonly children: readonly ChildSaState[]
  readonly raw: ViciMessage
}

export interface SaUpdown {
  readonly up: boolean
  readonly ikeSas: readonly IkeSaState[]
}

/** Parses one list-sa event (or the body of an updown event without `up`): one key per IKE_SA. */
export function parseIkeSas(message: ViciMessage): IkeSaState[] {
  return Object.entries(message)
    .filter(([key]) => key !== 'up')
    .map(([name, value]) => parseIkeSa(name, section(value, name)))
}

/** Parses an ike-updown or child-updown event: `up = yes` is present only when it came up. */
export function parseUpdown(message: ViciMessage): SaUpdown {
  return { up: message['up'] === 'yes', ikeSas: parseIkeSas(message) }
}

function parseIkeSa(name: string, sa: ViciMessage): IkeSaState {
  const childSection = sa['child-sas']
  const children = childSection === undefined ? [] : Object.entries(section(childSection, `${name}.child-sas`)).map(([key, value]) => parseChildSa(key, section(value, `${name}.child-sas.${key}`)))
  return {
    name,
    uniqueId: text(sa, 'uniqueid'),
    state: text(sa, 'state'),
    localHost: text(sa, 'local-host'),
    remoteHost: text(sa, 'remote-host'),
    localId: text(sa, 'local-id'),
    remoteId: text(sa, 'remote-id'),
    initiator: sa['initiator'] === 'yes',
    children,
    raw: sa,
  }
}

function parseChildSa(key: string, child: ViciMessage): ChildSaState {
  return {
    name: typeof child['name'] === 'string' ? child['name'] : key,
    uniqueId: text(child, 'uniqueid'),
    state: text(child, 'state'),
    mode: text(child, 'mode'),
    encap: child['encap'] === 'yes',
    localTs: list(child, 'local-ts'),
    remoteTs: list(child, 'remote-ts'),
    bytesIn: count(child, 'bytes-in'),
    bytesOut: count(child, 'bytes-out'),
    packetsIn: count(child, 'packets-in'),
    packetsOut: count(child, 'packets-out'),
    raw: child,
  }
}

function section(value: ViciValue, where: string): ViciMessage {
  if (typeof value === 'string' || Array.isArray(value)) throw new ViciProtocolError(`expected a section at ${where}`)
  return value
}

function text(m: ViciMessage, key: string): string {
  const v = m[key]
  return typeof v === 'string' ? v : ''
}

function list(m: ViciMessage, key: string): string[] {
  const v = m[key]
  return Array.isArray(v) ? v : []
}

function count(m: ViciMessage, key: string): number {
  const v = m[key]
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0
}
