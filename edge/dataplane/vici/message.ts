// VICI message elements (strongSwan src/libcharon/plugins/vici/README.md, "Message format"): a tree of
// sections, key-values and lists, encoded as a flat sequence of typed elements. Pure: Buffer in, tree out.
import { ViciCodecError } from './errors.js'

export const ElementType = {
  SECTION_START: 1,
  SECTION_END: 2,
  KEY_VALUE: 3,
  LIST_START: 4,
  LIST_ITEM: 5,
  LIST_END: 6,
} as const

/** A decoded value: charon encodes every value as a non-null-terminated string (README, "Key/Values"). */
export type ViciValue = string | string[] | ViciMessage
export interface ViciMessage {
  [key: string]: ViciValue
}

/** A value we can encode. Raw bytes are allowed (DER certificates); numbers become decimal strings,
 *  booleans the "yes"/"no" charon's settings parser accepts, and undefined keys are left out. */
export type ViciBlob = string | Uint8Array
export type ViciInputValue = ViciBlob | number | boolean | readonly ViciBlob[] | ViciMessageInput | undefined
export interface ViciMessageInput {
  readonly [key: string]: ViciInputValue
}

const MAX_NAME_BYTES = 0xff // u8 name length
const MAX_VALUE_BYTES = 0xffff // u16 value length

export function encodeMessage(message: ViciMessageInput): Buffer {
  const parts: Buffer[] = []
  let size = 0
  const push = (b: Buffer): void => {
    parts.push(b)
    size += b.length
  }
  const pushName = (type: number, name: string): void => {
    const bytes = Buffer.from(name, 'utf8')
    if (bytes.length > MAX_NAME_BYTES) {
      throw new ViciCodecError('length-overflow', size, `name "${name.slice(0, 40)}…" is ${bytes.length} bytes, the limit is ${MAX_NAME_BYTES}`)
    }
    push(Buffer.from([type, bytes.length]))
    push(bytes)
  }
  const pushValue = (blob: ViciBlob, what: string): void => {
    const bytes = typeof blob === 'string' ? Buffer.from(blob, 'utf8') : Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
    if (bytes.length > MAX_VALUE_BYTES) {
      throw new ViciCodecError('length-overflow', size, `value of ${what} is ${bytes.length} bytes, the limit is ${MAX_VALUE_BYTES}`)
    }
    const len = Buffer.alloc(2)
    len.writeUInt16BE(bytes.length)
    push(len)
    push(bytes)
  }
  const walk = (section: ViciMessageInput): void => {
    for (const [key, value] of Object.entries(section)) {
      if (value === undefined) continue
      if (typeof value === 'string' || value instanceof Uint8Array) {
        pushName(ElementType.KEY_VALUE, key)
        pushValue(value, key)
      } else if (typeof value === 'number' || typeof value === 'boolean') {
        pushName(ElementType.KEY_VALUE, key)
        pushValue(typeof value === 'number' ? String(value) : value ? 'yes' : 'no', key)
      } else if (isBlobList(value)) {
        pushName(ElementType.LIST_START, key)
        for (const item of value) {
          push(Buffer.from([ElementType.LIST_ITEM]))
          pushValue(item, `an item of list ${key}`)
        }
        push(Buffer.from([ElementType.LIST_END]))
      } else {
        pushName(ElementType.SECTION_START, key)
        walk(value)
        push(Buffer.from([ElementType.SECTION_END]))
      }
    }
  }
  walk(message)
  return Buffer.concat(parts, size)
}

function isBlobList(value: readonly ViciBlob[] | ViciMessageInput): value is readonly ViciBlob[] {
  return Array.isArray(value)
}

/**
 * Decodes a message that fills `bytes` entirely. `baseOffset` is added to reported offsets so errors point
 * into the enclosing frame. Enforces the README's validity rules: balanced sections, lists not nested and
 * holding only items, unique keys per section.
 */
export function decodeMessage(bytes: Buffer, baseOffset = 0): ViciMessage {
  const root: ViciMessage = {}
  const sections: ViciMessage[] = [root]
  let list: { name: string; items: string[]; start: number } | undefined
  let pos = 0
  const fail = (kind: ConstructorParameters<typeof ViciCodecError>[0], at: number, detail: string): never => {
    throw new ViciCodecError(kind, baseOffset + at, detail)
  }
  const readName = (): string => {
    if (pos >= bytes.length) fail('truncated', pos, 'name length byte missing')
    const len = bytes[pos]!
    if (pos + 1 + len > bytes.length) fail('truncated', pos, `name of ${len} bytes runs past the end (${bytes.length - pos - 1} left)`)
    const name = bytes.toString('utf8', pos + 1, pos + 1 + len)
    pos += 1 + len
    return name
  }
  const readValue = (): string => {
    if (pos + 2 > bytes.length) fail('truncated', pos, 'value length (u16) missing')
    const len = bytes.readUInt16BE(pos)
    if (pos + 2 + len > bytes.length) fail('truncated', pos, `value of ${len} bytes runs past the end (${bytes.length - pos - 2} left)`)
    const value = bytes.toString('utf8', pos + 2, pos + 2 + len)
    pos += 2 + len
    return value
  }
  const current = (): ViciMessage => sections[sections.length - 1]!
  const put = (name: string, value: ViciValue, at: number): void => {
    const section = current()
    if (Object.hasOwn(section, name)) fail('duplicate-key', at, `key "${name}" appears twice in one section`)
    // defineProperty, not assignment: a key named "__proto__" must stay data, not reach the prototype.
    Object.defineProperty(section, name, { value, enumerable: true, writable: true, configurable: true })
  }

  while (pos < bytes.length) {
    const at = pos
    const type = bytes[pos++]!
    if (list && type !== ElementType.LIST_ITEM && type !== ElementType.LIST_END) {
      if (type >= ElementType.SECTION_START && type <= ElementType.LIST_START) {
        fail('nesting', at, `element type ${type} inside list "${list.name}" (only LIST_ITEM and LIST_END may appear there)`)
      }
    }
    switch (type) {
      case ElementType.SECTION_START: {
        const name = readName()
        const section: ViciMessage = {}
        put(name, section, at)
        sections.push(section)
        break
      }
      case ElementType.SECTION_END:
        if (sections.length === 1) fail('nesting', at, 'SECTION_END without an open section')
        sections.pop()
        break
      case ElementType.KEY_VALUE: {
        const name = readName()
        put(name, readValue(), at)
        break
      }
      case ElementType.LIST_START: {
        const name = readName()
        list = { name, items: [], start: at }
        put(name, list.items, at)
        break
      }
      case ElementType.LIST_ITEM:
        if (!list) fail('nesting', at, 'LIST_ITEM outside a list')
        list!.items.push(readValue())
        break
      case ElementType.LIST_END:
        if (!list) fail('nesting', at, 'LIST_END without an open list')
        list = undefined
        break
      default:
        fail('bad-element-type', at, `element type ${type} is not one of 1..6`)
    }
  }
  if (list) fail('nesting', bytes.length, `list "${list.name}" opened at byte ${baseOffset + list.start} is never closed`)
  if (sections.length > 1) fail('nesting', bytes.length, `${sections.length - 1} section(s) never closed`)
  return root
}
