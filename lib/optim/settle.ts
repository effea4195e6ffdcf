/** Waits for every promise (so no update is still in flight), then rethrows the first rejection. */
export async function settleAll (pending: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(pending)
  for (const r of results) if (r.status === 'rejected') throw r.reason
}
