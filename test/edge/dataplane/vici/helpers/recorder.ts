// Records values pushed by callbacks and lets a test await the first one matching a predicate, without a
// deadline of its own (tap's per-file timeout catches a hang; timed waits flake on busy machines).
export class Recorder<T> {
  readonly items: T[] = []
  private waiters: Array<{ match: (item: T, index: number) => boolean; resolve: (item: T) => void }> = []

  push(item: T): void {
    const index = this.items.push(item) - 1
    this.waiters = this.waiters.filter(w => {
      if (!w.match(item, index)) return true
      w.resolve(item)
      return false
    })
  }

  waitFor(match: (item: T, index: number) => boolean): Promise<T> {
    const index = this.items.findIndex(match)
    if (index >= 0) return Promise.resolve(this.items[index]!)
    return new Promise(resolve => this.waiters.push({ match, resolve }))
  }
}
