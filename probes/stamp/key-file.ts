// The shared HMAC key for authenticated STAMP (RFC 8762 §4.4 leaves key distribution to the operator).
// On disk it is one line of hex, e.g. made by `openssl rand -hex 32`: text survives copy/paste and
// config management, and "is there a stray newline in my binary key?" cannot happen.
import { readFile } from 'node:fs/promises'

/** 128 bits: shorter keys make the 128-bit truncated HMAC weaker than it looks. */
export const MIN_KEY_OCTETS = 16

export function parseAuthKey(text: string, where: string): Buffer {
  const hex = text.trim()
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length % 2 !== 0) {
    throw new Error(`${where}: expected one line of hex digits (e.g. from 'openssl rand -hex 32')`)
  }
  const key = Buffer.from(hex, 'hex')
  if (key.length < MIN_KEY_OCTETS) {
    throw new Error(`${where}: key is ${key.length} octets; use at least ${MIN_KEY_OCTETS} (${MIN_KEY_OCTETS * 2} hex digits)`)
  }
  return key
}

export async function readAuthKeyFile(path: string): Promise<Buffer> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new Error(`${path}: cannot read the auth key file (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  return parseAuthKey(text, path)
}
