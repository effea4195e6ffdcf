'use strict'
// Checkpoint I/O (issue 10): the 16-bit float conversions fv.io uses, and safetensors
// load/save of a small model's worth of weights, beside the yardsticks a Node user has
// without foveal: a plain-JS conversion loop (what a hand-written loader does per element)
// and one TypedArray.set memcpy of the same bytes. No peer library converts F16/BF16 in
// Node 20 (no Float16Array), so there is no peer row. Memory-bound: rows report GB/s of
// bytes read + written.
const fs = require('fs')
const os = require('os')
const path = require('path')

function rand (n, seed, lo = -4, hi = 4) {
  const a = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; a[i] = lo + (hi - lo) * (s / 2 ** 32) }
  return a
}

// The loops a loader without native help runs (round to nearest even; NaN handling aside).
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
function jsF32ToBf16 (src, out) {
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i]
    const x = u32[0]
    out[i] = (x + 0x7FFF + ((x >>> 16) & 1)) >>> 16
  }
}
function jsBf16ToF32 (src, out) {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length)
  for (let i = 0; i < src.length; i++) o[i] = src[i] << 16
}
function jsF16ToF32 (src, out) {
  for (let i = 0; i < src.length; i++) {
    const h = src[i]; const e = (h >> 10) & 0x1F; const m = h & 0x3FF; const s = h & 0x8000 ? -1 : 1
    out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15)
  }
}

async function run ({ fv, report, measure, quick }) {
  const suite = 'io'
  const shape = quick ? [8, 128, 28, 28] : [64, 128, 28, 28]
  const n = shape.reduce((p, d) => p * d, 1)
  const sh = `[${shape.join(',')}]`
  const x = rand(n, 1)
  const h = fv.ops.f32ToF16(x); const b = fv.ops.f32ToBf16(x)
  const out32 = new Float32Array(n); const out16 = new Uint16Array(n)
  const rows = [
    ['f32ToF16', () => fv.ops.f32ToF16(x), () => fv.ops.f32ToF16(x, { out: out16 }), null],
    ['f16ToF32', () => fv.ops.f16ToF32(h), () => fv.ops.f16ToF32(h, { out: out32 }), () => jsF16ToF32(h, out32)],
    ['f32ToBf16', () => fv.ops.f32ToBf16(x), () => fv.ops.f32ToBf16(x, { out: out16 }), () => jsF32ToBf16(x, out16)],
    ['bf16ToF32', () => fv.ops.bf16ToF32(b), () => fv.ops.bf16ToF32(b, { out: out32 }), () => jsBf16ToF32(b, out32)]
  ]
  const copyDst = new Float32Array(n)
  report.add({ suite, group: `memcpy reference x=${sh}`, impl: 'TypedArray.set', flop: 0, bytes: 8 * n, threads: 1, ...(await measure(() => copyDst.set(x))), note: 'one thread, the bandwidth yardstick' })
  for (const [name, alloc, out, js] of rows) {
    const row = { suite, group: `${name} x=${sh}`, flop: n, bytes: 6 * n }
    report.add({ ...row, impl: 'foveal', ...(await measure(alloc)) })
    report.add({ ...row, impl: 'foveal out', ...(await measure(out)) })
    if (js) report.add({ ...row, impl: 'plain JS loop', threads: 1, ...(await measure(js)) })
  }

  // A checkpoint of 16 tensors of shape/16 elements each, as F32 and as BF16.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'foveal-bench-io-'))
  try {
    const per = n / 16
    const record = {}
    for (let i = 0; i < 16; i++) record[`layer${i}.weight`] = fv.tensor(x.subarray(i * per, (i + 1) * per), [per])
    for (const dtype of ['F32', 'BF16']) {
      const file = path.join(dir, `${dtype}.safetensors`)
      const fileBytes = n * (dtype === 'F32' ? 4 : 2)
      const row = { suite, flop: 0 }
      report.add({ ...row, group: `saveSafetensors 16×[${per}] ${dtype}`, impl: 'foveal', bytes: 4 * n + fileBytes, ...(await measure(() => fv.io.saveSafetensors(file, record, null, { dtype }), { minRuns: 3, maxRuns: 20 })), note: 'includes fsync' })
      report.add({ ...row, group: `loadSafetensors 16×[${per}] ${dtype}`, impl: 'foveal', bytes: fileBytes + 4 * n, ...(await measure(() => fv.io.loadSafetensors(file), { minRuns: 3, maxRuns: 20 })) })
      report.add({ ...row, group: `loadSafetensors 16×[${per}] ${dtype}`, impl: 'foveal Async', bytes: fileBytes + 4 * n, ...(await measure(() => fv.io.loadSafetensorsAsync(file), { minRuns: 3, maxRuns: 20 })) })
      report.add({ ...row, group: `loadSafetensors 16×[${per}] ${dtype}`, impl: 'fs.readFileSync', bytes: fileBytes, ...(await measure(() => fs.readFileSync(file), { minRuns: 3, maxRuns: 20 })), note: 'the raw read, the yardstick' })
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

module.exports = { run }
