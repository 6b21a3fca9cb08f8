// The decision log: every re-steer as one JSON line (before, after, reason, the figures that triggered
// it), appended to a file in the state directory. Bounded: past `maxBytes` the file is rotated to
// `.1` (the previous `.1` is dropped), so the log keeps between maxBytes and 2 × maxBytes of history.
import type { SteeringChange } from '../steering/decide.js'

export interface DecisionLogFs {
  appendFile(path: string, data: string): Promise<void>
  stat(path: string): Promise<{ size: number }>
  rename(from: string, to: string): Promise<void>
}

export const DECISION_LOG_MAX_BYTES = 10 * 1024 * 1024

export class DecisionLog {
  private writing: Promise<void> = Promise.resolve()

  constructor(
    private readonly path: string,
    private readonly fs: DecisionLogFs,
    private readonly onError: (err: unknown) => void,
    private readonly maxBytes = DECISION_LOG_MAX_BYTES,
  ) {}

  /** Queues the changes; writes are serialised so lines never interleave. */
  record(changes: readonly SteeringChange[], wallAt: number): Promise<void> {
    const lines = changes.map(c => JSON.stringify({ time: new Date(wallAt).toISOString(), ...c }) + '\n').join('')
    this.writing = this.writing.then(() => this.write(lines)).catch(this.onError)
    return this.writing
  }

  private async write(lines: string): Promise<void> {
    const size = await this.fs.stat(this.path).then(s => s.size, () => 0)
    if (size + lines.length > this.maxBytes && size > 0) await this.fs.rename(this.path, `${this.path}.1`)
    await this.fs.appendFile(this.path, lines)
  }
}
