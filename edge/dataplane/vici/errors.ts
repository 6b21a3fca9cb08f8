// Typed errors of the VICI client. Each says what went wrong and, for malformed input, at which byte.

/** What was wrong with bytes we were asked to decode or a value we were asked to encode. */
export type ViciCodecErrorKind =
  | 'truncated' // an element or frame ends before its declared length
  | 'bad-element-type' // a message element type outside 1..6
  | 'bad-packet-type' // a packet type outside 0..7
  | 'length-overflow' // a name > 255 bytes, a value > 65535 bytes, or a frame past the 512 KiB limit
  | 'nesting' // unbalanced sections, nested lists, items outside lists, key-values inside lists
  | 'duplicate-key' // the README requires key names to be unique within a section

export class ViciCodecError extends Error {
  override readonly name = 'ViciCodecError'
  constructor(
    readonly kind: ViciCodecErrorKind,
    /** Byte offset (within the message or frame being decoded, or the encoded output so far) where it failed. */
    readonly offset: number,
    readonly detail: string,
  ) {
    super(`VICI ${kind} at byte ${offset}: ${detail}`)
  }
}

/** The connection to charon closed or failed while something was waiting on it. */
export class ViciConnectionError extends Error {
  override readonly name = 'ViciConnectionError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** charon answered CMD_UNKNOWN: this daemon has no handler for the command (e.g. older strongSwan). */
export class ViciUnknownCommandError extends Error {
  override readonly name = 'ViciUnknownCommandError'
  constructor(readonly command: string) {
    super(`charon does not know the VICI command "${command}"`)
  }
}

/** charon answered EVENT_UNKNOWN: there is no event source of that name. */
export class ViciUnknownEventError extends Error {
  override readonly name = 'ViciUnknownEventError'
  constructor(readonly event: string) {
    super(`charon does not know the VICI event "${event}"`)
  }
}

/** A command ran and charon reported `success = no`, with its `errmsg`. */
export class ViciCommandError extends Error {
  override readonly name = 'ViciCommandError'
  constructor(
    readonly command: string,
    readonly errmsg: string,
  ) {
    super(`VICI ${command} failed: ${errmsg || '(charon gave no errmsg)'}`)
  }
}

/** A reply did not have the shape the README documents for that command. */
export class ViciProtocolError extends Error {
  override readonly name = 'ViciProtocolError'
  constructor(message: string) {
    super(message)
  }
}
