// Waiting on a daemon's status in a VM scenario: asked every STATUS_POLL_MS rather than the 50 ms
// branch.waitForStatus uses, since under TCG that much asking is load the probes' timing would feel.
export const STATUS_POLL_MS = 500

/** Asks until `predicate` holds or `timeoutMs` passes; the first report that satisfied, or the last one seen. */
export async function pollStatus<S>(status: () => Promise<S>, predicate: (s: S) => boolean, timeoutMs: number): Promise<{ met: boolean; last: S }> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const last = await status()
    if (predicate(last) || Date.now() >= until) return { met: predicate(last), last }
    await new Promise(resolve => setTimeout(resolve, STATUS_POLL_MS))
  }
}
