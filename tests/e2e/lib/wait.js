'use strict';
// Polling with a deadline: tests wait for state, never for time.

// Calls `probe` every `intervalMs` until it returns something other than
// undefined, and resolves with that. Rejects when `probe` throws or when
// `timeoutMs` passes; the timeout message names `what` and the last value seen.
async function pollUntil(probe, { timeoutMs = 60_000, intervalMs = 200, what = 'condition', describe } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    const result = await probe();
    if (result !== undefined) return result;
    last = describe ? describe() : undefined;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
                      (last === undefined ? '' : `; last seen: ${JSON.stringify(last)}`));
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

module.exports = { pollUntil };
