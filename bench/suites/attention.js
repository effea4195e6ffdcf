'use strict'
// Fused attention, forward and backward, beside every peer formulation that runs here:
//  - onnxruntime-node, three ways: its com.microsoft MultiHeadAttention contrib op (fed
//    [B,L,H·D] tensors, prepared once outside the timed call: the transpose from foveal's
//    [B,H,L,D] is NOT counted), the ONNX opset-23 Attention op (takes [B,H,L,D] as is),
//    and a MatMul → Softmax → MatMul graph (Transpose and the scale fused by ORT's
//    optimiser; causal as an added [L,L] constant of 0/−Infinity);
//  - tfjs-wasm: matMul + softmax + matMul (one thread in Node);
//  - PyTorch 1.13: the math formulation (it has no scaled_dot_product_attention), forward
//    under no_grad and the autograd backward alone.
// FLOPs: 2·B·H·Lq·Lk·(D+Dv) forward (4·B·H·L²·D when Dv = D), halved when causal;
// backward 2.5× the forward's. A last section runs one L = 16384 call in a child process
// and reports its peak RSS (VmHWM) beside the size of the inputs.
const { rand } = require('../lib/data')
const { spawnSync } = require('child_process')
const { model } = require('../lib/onnx')

const SHAPES = [
  { B: 1, H: 8, L: 512, D: 64 },
  { B: 1, H: 8, L: 512, D: 64, causal: true },
  { B: 1, H: 8, L: 2048, D: 64 },
  { B: 1, H: 8, L: 2048, D: 64, causal: true },
  { B: 4, H: 12, L: 1024, D: 64 },
  { B: 4, H: 12, L: 1024, D: 64, causal: true },
  { B: 1, H: 8, L: 2048, D: 128 },
  // A non-local block on a 56×56 feature map: self-attention across pixels, Dv ≠ D.
  { B: 8, H: 1, L: 3136, D: 32, Dv: 64 }
]

function name (s) {
  return `q=[${s.B},${s.H},${s.L},${s.D}]${s.Dv && s.Dv !== s.D ? ` Dv=${s.Dv}` : ''}${s.causal ? ' causal' : ''}`
}

// [B,H,L,D] → [B,L,H·D], for the contrib op.
function toBLHD (x, B, H, L, D) {
  const y = new Float32Array(x.length)
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let l = 0; l < L; l++) {
        const src = ((b * H + h) * L + l) * D
        y.set(x.subarray(src, src + D), (b * L + l) * H * D + h * D)
      }
    }
  }
  return y
}

function causalMask (L) {
  const m = new Float32Array(L * L)
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) m[i * L + j] = -Infinity
  return m
}

async function ortRows ({ ort, report, measure }, suite, group, s, q, k, v, flop) {
  const { B, H, L, D } = s
  const Dv = s.Dv || D
  const scale = 1 / Math.sqrt(D)
  const add = async (impl, note, build, feeds) => {
    try {
      const sess = await ort.session(build())
      await sess.run(feeds) // fails here, untimed, when the op cannot run the case
      report.add({ suite, group, impl, flop, note, ...(await measure(() => sess.run(feeds))) })
    } catch (err) {
      report.add({ suite, group, impl, flop, error: err.message.split('\n')[0].slice(0, 100) })
    }
  }
  const f4 = { q: ort.feed(q, [B, H, L, D]), k: ort.feed(k, [B, H, L, D]), v: ort.feed(v, [B, H, L, Dv]) }
  if (Dv === D) {
    const f3 = { q: ort.feed(toBLHD(q, B, H, L, D), [B, L, H * D]), k: ort.feed(toBLHD(k, B, H, L, D), [B, L, H * D]), v: ort.feed(toBLHD(v, B, H, L, Dv), [B, L, H * Dv]) }
    await add('ort MultiHeadAttention', '[B,L,H·D] inputs, transpose not counted', () => model({
      inputs: [['q', [B, L, H * D]], ['k', [B, L, H * D]], ['v', [B, L, H * Dv]]],
      outputs: [['o', [B, L, H * Dv]]],
      nodes: [{ op: 'MultiHeadAttention', domain: 'com.microsoft', inputs: ['q', 'k', 'v'], outputs: ['o'], attrs: { num_heads: H, unidirectional: s.causal ? 1 : 0 } }]
    }), f3)
  } else {
    report.add({ suite, group, impl: 'ort MultiHeadAttention', flop, error: 'needs Dv = D on the CPU' })
  }
  await add('ort Attention (opset 23)', '[B,H,L,D] as is', () => model({
    opset: 23,
    inputs: [['q', [B, H, L, D]], ['k', [B, H, L, D]], ['v', [B, H, L, Dv]]],
    outputs: [['o', [B, H, L, Dv]]],
    nodes: [{ op: 'Attention', inputs: ['q', 'k', 'v'], outputs: ['o'], attrs: { is_causal: s.causal ? 1 : 0 } }]
  }), f4)
  const nodes = [
    { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [0, 1, 3, 2] } },
    { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['s0'] },
    { op: 'Mul', inputs: ['s0', 'scale'], outputs: [s.causal ? 's1' : 's'] }
  ]
  if (s.causal) nodes.push({ op: 'Add', inputs: ['s1', 'mask'], outputs: ['s'] })
  nodes.push({ op: 'Softmax', inputs: ['s'], outputs: ['p'], attrs: { axis: -1 } })
  nodes.push({ op: 'MatMul', inputs: ['p', 'v'], outputs: ['o'] })
  const initializers = [['scale', [], Float32Array.of(scale)]]
  if (s.causal) initializers.push(['mask', [L, L], causalMask(L)])
  await add('ort MatMul-Softmax-MatMul', 'the L×L scores materialised', () => model({
    inputs: [['q', [B, H, L, D]], ['k', [B, H, L, D]], ['v', [B, H, L, Dv]]],
    outputs: [['o', [B, H, L, Dv]]],
    initializers,
    nodes
  }), f4)
}

async function tfjsRow ({ tfjs, report, measure }, suite, group, s, q, k, v, flop) {
  const tf = tfjs.tf
  const { B, H, L, D } = s
  const Dv = s.Dv || D
  const tq = tf.tensor4d(q, [B, H, L, D]); const tk = tf.tensor4d(k, [B, H, L, D]); const tv = tf.tensor4d(v, [B, H, L, Dv])
  const mask = s.causal ? tf.tensor2d(causalMask(L), [L, L]) : null
  try {
    const run = () => {
      const o = tf.tidy(() => {
        let sc = tf.mul(tf.matMul(tq, tk, false, true), 1 / Math.sqrt(D))
        if (mask) sc = tf.add(sc, mask)
        return tf.matMul(tf.softmax(sc), tv)
      })
      o.dataSync()
      o.dispose()
    }
    const m = await measure(run, { warmup: 1, minRuns: 3, minMs: 300 })
    report.add({ suite, group, impl: 'tfjs-wasm', flop, ...m, threads: 1, note: 'one thread in Node' })
  } catch (err) {
    report.add({ suite, group, impl: 'tfjs-wasm', flop, error: err.message.slice(0, 100) })
  } finally {
    tf.dispose([tq, tk, tv])
    if (mask) mask.dispose()
  }
}

// Peak RSS of a child running one call at L = 16384: memory O(L), not the L² scores.
function memoryRows ({ report, threads }, suite) {
  const s = { B: 1, H: 8, L: 16384, D: 64 }
  const mib = (b) => (b / 2 ** 20).toFixed(0)
  for (const dir of ['fwd', 'bwd']) {
    const r = spawnSync(process.execPath, [__filename, '--rss', dir, JSON.stringify(s), String(threads)], { encoding: 'utf8', maxBuffer: 1 << 20 })
    const group = `${name(s)} ${dir} memory`
    if (r.status !== 0) {
      report.add({ suite, group, impl: 'foveal', flop: 0, error: `child failed: ${(r.stderr || '').trim().split('\n').pop()}` })
      continue
    }
    const m = JSON.parse(r.stdout)
    const flop = 2 * s.B * s.H * s.L * s.L * s.D * (dir === 'bwd' ? 2.5 : 1) // causal: half of 4·B·H·L²·D
    report.add({
      suite,
      group,
      impl: 'foveal',
      flop,
      ms: m.ms,
      note: `peak RSS ${mib(m.peak)} MiB = ${mib(m.before)} before the call (node + ${mib(m.tensors)} MiB of tensors) ` +
        `+ ${mib(m.peak - m.before)} MiB during it (results ${mib(m.results)} MiB); one head's L×L scores alone would be ${mib(s.L * s.L * 4)} MiB`
    })
  }
}

// The high-water mark of this process's resident memory, in bytes. VmHWM belongs to the
// address space, which exec replaces: unlike getrusage's maxRSS, which Linux carries
// over from the forked parent (the bench process, with every peer loaded).
function hwm () {
  const m = /VmHWM:\s+(\d+) kB/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024
}

function childRss (dir, s, threads) {
  const fv = require('../..')
  fv.setNumThreads(threads)
  const { B, H, L, D } = s
  const n = B * H * L * D
  const q = fv.tensor(rand(n, 1), [B, H, L, D]); const k = fv.tensor(rand(n, 2), [B, H, L, D]); const v = fv.tensor(rand(n, 3), [B, H, L, D])
  let tensors = 3 * n * 4
  let dO, f
  if (dir === 'bwd') {
    dO = fv.tensor(rand(n, 4), [B, H, L, D])
    f = fv.ops.attention(q, k, v, { causal: true })
    tensors += (2 * n + B * H * L) * 4
  }
  const before = hwm()
  const t0 = performance.now()
  if (dir === 'fwd') fv.ops.attention(q, k, v, { causal: true })
  else fv.ops.attentionBackward(dO, q, k, v, f.out, f.lse, { causal: true })
  const ms = performance.now() - t0
  const peak = hwm()
  const results = (dir === 'fwd' ? n + B * H * L : 3 * n) * 4
  process.stdout.write(JSON.stringify({ before, peak, ms, tensors, results }))
}

async function run (ctx) {
  const { fv, report, measure, ort, tfjs, torch, quick } = ctx
  const suite = 'attention'
  // FOVEAL_BENCH_ATTENTION=0,3,mem runs only those rows of SHAPES (and the memory rows):
  // on a shared machine, each can then be run in a quiet moment of its own.
  const only = process.env.FOVEAL_BENCH_ATTENTION ? process.env.FOVEAL_BENCH_ATTENTION.split(',') : null
  const shapes = only ? SHAPES.filter((_, i) => only.includes(String(i))) : quick ? SHAPES.slice(0, 2) : SHAPES
  const torchCase = (s, backward) => ({ op: 'attention_math', B: s.B, H: s.H, Lq: s.L, Lk: s.L, D: s.D, Dv: s.Dv || s.D, causal: !!s.causal, backward })
  const torchFwd = torch(shapes.map((s) => torchCase(s, false)))
  const torchBwd = torch(shapes.map((s) => torchCase(s, true)))
  for (const [i, s] of shapes.entries()) {
    const { B, H, L, D } = s
    const Dv = s.Dv || D
    const flop = 2 * B * H * L * L * (D + Dv) * (s.causal ? 0.5 : 1)
    const q = fv.tensor(rand(B * H * L * D, 1), [B, H, L, D])
    const k = fv.tensor(rand(B * H * L * D, 2), [B, H, L, D])
    const v = fv.tensor(rand(B * H * L * Dv, 3), [B, H, L, Dv])
    const opts = { causal: !!s.causal }

    const group = `${name(s)} fwd`
    report.add({ suite, group, impl: 'foveal', flop, ...(await measure(() => fv.ops.attention(q, k, v, opts))) })
    const out = { out: fv.tensor(new Float32Array(B * H * L * Dv), [B, H, L, Dv]), lse: fv.tensor(new Float32Array(B * H * L), [B, H, L]) }
    report.add({ suite, group, impl: 'foveal out', flop, ...(await measure(() => fv.ops.attention(q, k, v, { ...opts, out }))) })
    if (!ort.error) await ortRows(ctx, suite, group, s, q.data, k.data, v.data, flop)
    if (!tfjs.error && !quick) await tfjsRow(ctx, suite, group, s, q.data, k.data, v.data, flop)
    report.add({ suite, group, impl: 'pytorch', flop, ms: torchFwd[i].ms, error: torchFwd[i].error, note: 'math formulation (1.13)' })

    const bgroup = `${name(s)} bwd`
    const bflop = 2.5 * flop
    const dO = fv.tensor(rand(B * H * L * Dv, 4), [B, H, L, Dv])
    const f = fv.ops.attention(q, k, v, opts)
    report.add({ suite, group: bgroup, impl: 'foveal', flop: bflop, ...(await measure(() => fv.ops.attentionBackward(dO, q, k, v, f.out, f.lse, opts))) })
    const gout = { dq: fv.tensor(new Float32Array(q.size), q.shape), dk: fv.tensor(new Float32Array(k.size), k.shape), dv: fv.tensor(new Float32Array(v.size), v.shape) }
    report.add({ suite, group: bgroup, impl: 'foveal out', flop: bflop, ...(await measure(() => fv.ops.attentionBackward(dO, q, k, v, f.out, f.lse, { ...opts, out: gout }))) })
    report.add({ suite, group: bgroup, impl: 'pytorch', flop: bflop, ms: torchBwd[i].ms, error: torchBwd[i].error, note: 'autograd of the math formulation' })
  }
  if (only ? only.includes('mem') : !quick) memoryRows(ctx, suite)
}

module.exports = { run }

if (require.main === module && process.argv[2] === '--rss') {
  childRss(process.argv[3], JSON.parse(process.argv[4]), Number(process.argv[5]))
}
