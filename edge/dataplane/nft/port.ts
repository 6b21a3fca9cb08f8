// NftPort over the `nft` command. Every change is one `nft -f -` transaction: nft commits a whole
// file atomically (one netlink batch), so the classifier is never half-loaded and a rejected file
// leaves the previous table in place.
import { NftError } from '../errors.js'
import type { NftPort } from '../ports.js'
import { spawnProcess, type ProcessResult, type RunProcess } from '../process.js'
import { readTableComment } from './table-comment.js'

/**
 * `add table` makes the `delete table` valid when the table does not exist yet; both and the new
 * table go in the same transaction, so packets see either the old ruleset or the new one.
 */
export const replaceScript = (table: string, text: string): string => `add table inet ${table}\ndelete table inet ${table}\n${text}`

export const removeScript = (table: string): string => `add table inet ${table}\ndelete table inet ${table}\n`

/** Reads our table's comment (nft/table-comment.ts: over netlink, no process start). */
export type CommentReader = (table: string) => Promise<string | null>

export class NftCliPort implements NftPort {
  constructor(
    private readonly run: RunProcess = spawnProcess,
    private readonly readComment: CommentReader = readTableComment,
    private readonly nft = 'nft',
  ) {}

  async digest(table: string): Promise<string | null> {
    return this.readComment(table)
  }

  async load(table: string, text: string, after?: Promise<unknown>): Promise<void> {
    const script = after ? after.then(() => replaceScript(table, text)) : replaceScript(table, text)
    await this.exec(['-f', '-'], script, 'load')
    // When `after` failed, nft got no input and loaded nothing: that is this load's failure too.
    await after
  }

  /** Runs `nft -f -` lines (set elements learned from DNS) as one transaction. */
  async addElements(lines: string[]): Promise<void> {
    await this.exec(['-f', '-'], lines.join('\n') + '\n', 'add elements')
  }

  async remove(table: string): Promise<void> {
    await this.exec(['-f', '-'], removeScript(table), 'delete')
  }

  private async exec(args: string[], stdin: string | Promise<string>, operation: string): Promise<ProcessResult> {
    let r: ProcessResult
    try {
      r = await this.run(this.nft, args, stdin)
    } catch (err) {
      throw new NftError(operation, (err as Error).message, null)
    }
    if (r.code !== 0) throw new NftError(operation, r.stderr, r.code)
    return r
  }
}
