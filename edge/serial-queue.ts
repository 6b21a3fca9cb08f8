// Runs async work one piece at a time, in the order it was asked for: each piece starts once the one
// before has settled, and a failure rejects only its own caller. For the owners of kernel objects and
// daemons whose operations must not interleave (tunnel sets, device adoption, hub reloads).
export type SerialQueue = <T>(work: () => Promise<T>) => Promise<T>

export function serialQueue(): SerialQueue {
  let tail: Promise<unknown> = Promise.resolve()
  return <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work)
    tail = run.catch(() => undefined)
    return run
  }
}
