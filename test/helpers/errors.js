'use strict'
// The one way tests assert on errors: the exact class (not a subclass) and a message with
// every part — a string it must contain or a RegExp it must match.

function check (t, err, type, parts) {
  if (!err) return
  t.is(err.constructor, type, err.message)
  for (const p of parts) {
    if (p instanceof RegExp) t.regex(err.message, p)
    else t.true(err.message.includes(p), `message "${err.message}" should include "${p}"`)
  }
}

/** Asserts fn() throws exactly `type` with a message that has every part. Returns the error. */
function throwsLike (t, fn, type, ...parts) {
  const err = t.throws(fn, { instanceOf: type })
  check(t, err, type, parts)
  return err
}

/** The same for a promise that must reject. */
async function rejectsLike (t, promise, type, ...parts) {
  const err = await t.throwsAsync(promise, { instanceOf: type })
  check(t, err, type, parts)
  return err
}

module.exports = { throwsLike, rejectsLike }
