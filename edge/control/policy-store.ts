// What the edge remembers about pushed policies across restarts, in STATE_DIR/policy/:
//   last-good.json   the envelope of the last policy confirmed by a broker round trip
//   candidate.json   the envelope of a policy applied and still on probation (absent otherwise)
//   serial-floor     the highest serial ever accepted: pushes must exceed it (anti-replay, anti-rollback)
// Envelopes are kept signed, so what is read back at start can be checked like a push. Every write is
// durable before it returns (write a sibling, fsync, rename over, fsync the directory): a power loss
// leaves the old file or the new one, never a torn one.
import * as fsp from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { parseSignedPolicyEnvelope, type SignedPolicyEnvelope } from './policy-envelope.js'

export interface DurableFs {
  /** The file's text, or undefined when it does not exist. */
  read(path: string): Promise<string | undefined>
  writeDurably(path: string, text: string): Promise<void>
  remove(path: string): Promise<void>
  mkdirp(path: string): Promise<void>
}

export const nodeDurableFs: DurableFs = {
  async read(path) {
    try {
      return await fsp.readFile(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
  },
  async writeDurably(path, text) {
    const temporary = `${path}.tmp`
    const handle = await fsp.open(temporary, 'w')
    try {
      await handle.writeFile(text)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fsp.rename(temporary, path)
    const dir = await fsp.open(dirname(path), 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
  },
  remove: path => fsp.rm(path, { force: true }),
  mkdirp: async path => void (await fsp.mkdir(path, { recursive: true })),
}

export class PolicyStoreCorrupt extends Error {
  override readonly name = 'PolicyStoreCorrupt'
}

export interface StoredPolicies {
  readonly lastGood: SignedPolicyEnvelope | undefined
  readonly candidate: SignedPolicyEnvelope | undefined
  readonly serialFloor: number
}

export class PolicyStore {
  private readonly dir: string

  constructor(
    stateDir: string,
    private readonly fs: DurableFs = nodeDurableFs,
  ) {
    this.dir = join(stateDir, 'policy')
  }

  async load(): Promise<StoredPolicies> {
    await this.fs.mkdirp(this.dir)
    const floorText = await this.fs.read(join(this.dir, 'serial-floor'))
    const floor = floorText === undefined ? 0 : Number(floorText.trim())
    if (!Number.isSafeInteger(floor) || floor < 0) throw new PolicyStoreCorrupt(`${join(this.dir, 'serial-floor')}: not a serial: '${floorText}'`)
    return { lastGood: await this.readEnvelope('last-good.json'), candidate: await this.readEnvelope('candidate.json'), serialFloor: floor }
  }

  /** Raises the floor before a policy is applied: its serial is spent even if it is rolled back. */
  raiseSerialFloor(serial: number): Promise<void> {
    return this.fs.writeDurably(join(this.dir, 'serial-floor'), `${serial}\n`)
  }

  saveCandidate(envelope: SignedPolicyEnvelope): Promise<void> {
    return this.fs.writeDurably(join(this.dir, 'candidate.json'), JSON.stringify(envelope))
  }

  /** The candidate passed probation: it becomes the last good policy. */
  async promote(envelope: SignedPolicyEnvelope): Promise<void> {
    await this.fs.writeDurably(join(this.dir, 'last-good.json'), JSON.stringify(envelope))
    await this.fs.remove(join(this.dir, 'candidate.json'))
  }

  discardCandidate(): Promise<void> {
    return this.fs.remove(join(this.dir, 'candidate.json'))
  }

  private async readEnvelope(name: string): Promise<SignedPolicyEnvelope | undefined> {
    const text = await this.fs.read(join(this.dir, name))
    if (text === undefined) return undefined
    const parsed = parseSignedPolicyEnvelope(Buffer.from(text, 'utf8'))
    if (!parsed.ok) throw new PolicyStoreCorrupt(`${join(this.dir, name)}: ${parsed.message}`)
    return parsed.envelope
  }
}
