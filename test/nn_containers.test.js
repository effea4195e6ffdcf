'use strict'
// fv.nn containers: Sequential, ModuleList, ModuleDict (names, order, iteration), and the
// memory rules: a container disposes the activations and gradients it passes between its
// children once they are used, never what the caller gave or got back, and a training
// step in steady state takes no fresh pool memory.
const test = require('ava')
const fv = require('./helpers/fv')
const { assertClose, assertBitIdentical } = require('./helpers/check')
const { uniform } = require('./helpers/random')

const nn = fv.nn
// Disposed, or a view whose memory went with the tensor it shares (its data reads length 0).
const released = (t) => t.isDisposed || t.data.length === 0
const size = (s) => s.reduce((a, b) => a * b, 1)
const rand = (shape, seed, lo = -1, hi = 1) => fv.tensor(uniform(size(shape), seed, lo, hi), shape)

/** A pass-through module that records the tensors it sees and returns (a copy: a result of its own). */
class Tap extends nn.Module {
  constructor () { super(); this.seen = [] }
  forward (x) { const y = fv.ops.relu(x); this.seen.push({ in: x, out: y }); return y }
  backward (dy) { const dx = fv.ops.mul(dy, fv.tensor([1], [1])); this.seen.push({ dy, dx }); return dx }
}

test('Sequential: children "0", "1", …; at, length, iteration, push; nested names', (t) => {
  const a = new nn.Linear(2, 3); const b = new nn.ReLU(); const c = new nn.Linear(3, 1)
  const s = new nn.Sequential(a, b)
  t.is(s.length, 2); t.is(s[0], a); t.is(s.at(-1), b); t.is(s.at(2), undefined)
  t.is(s.push(c), s); t.is(s.length, 3)
  t.deepEqual([...s], [a, b, c])
  t.deepEqual([...s.namedChildren()].map(([k]) => k), ['0', '1', '2'])
  const outer = new nn.Sequential(new nn.Sequential(new nn.Linear(1, 1)), s)
  t.deepEqual(Object.keys(outer.stateDict()), ['0.0.weight', '0.0.bias', '1.0.weight', '1.0.bias', '1.2.weight', '1.2.bias'])
  t.deepEqual(outer.namedParameters().map(([k]) => k), Object.keys(outer.stateDict()))
  const empty = new nn.Sequential()
  const x = rand([2], 1)
  t.is(empty.forward(x), x, 'an empty Sequential is the identity')
  t.is(empty.backward(x), x)
})

test('Sequential backward disposes the activations and gradients between children, never the caller\'s', (t) => {
  const taps = [new Tap(), new Tap(), new Tap()]
  const s = new nn.Sequential(taps[0], new nn.Linear(4, 4), taps[1], new nn.Flatten(0), taps[2])
  const x = rand([2, 4], 1)
  const y = s.forward(x)
  const dy = rand(y.shape, 2)
  const dx = s.backward(dy)
  const inner = [taps[0].seen[0].out, taps[1].seen[0].in, taps[1].seen[0].out, taps[2].seen[0].in]
  t.true(inner.every(released), 'intermediate activations disposed')
  const grads = [taps[2].seen[1].dx, taps[1].seen[1].dy, taps[1].seen[1].dx, taps[0].seen[1].dy]
  t.true(grads.every(released), 'intermediate gradients disposed')
  for (const [name, v] of [['x', x], ['y', y], ['dy', dy], ['dx', dx]]) {
    t.false(v.isDisposed, `${name} stays the caller's`)
    t.true(v.data.length > 0, `${name} still readable`)
  }
  t.is(taps[2].seen[0].out, y)
  t.is(taps[0].seen[1].dx, dx)
})

test('views between children live until nothing needs their memory (Softmax → Flatten → Linear)', (t) => {
  fv.manualSeed(1)
  const s = new nn.Sequential(new nn.Linear(3, 4), new nn.Softmax(-1), new nn.Flatten(0), new nn.Linear(8, 2))
  const x = rand([2, 3], 1)
  const dy = rand([2], 2)
  const y = s.forward(x)
  const dx = s.backward(dy)
  // The same composition by hand.
  const [l0, , , l3] = s
  const a1 = fv.ops.linear(x, l0.weight.value, l0.bias.value)
  const a2 = fv.ops.softmax(a1, -1)
  const a3 = a2.reshape([8])
  assertBitIdentical(t, y, fv.ops.linear(a3, l3.weight.value, l3.bias.value), 'forward')
  const g3 = fv.ops.linearBackward(dy, a3, l3.weight.value)
  const g1 = fv.ops.softmaxBackward(g3.dx.reshape([2, 4]), a2, -1)
  const g0 = fv.ops.linearBackward(g1, x, l0.weight.value)
  assertBitIdentical(t, dx, g0.dx, 'dx')
  assertBitIdentical(t, l0.weight.grad, g0.dw, 'dw0')
  assertBitIdentical(t, l3.weight.grad, g3.dw, 'dw3')
})

test('an eval forward disposes each intermediate as soon as the next child has it; a repeated training forward drops the last one\'s', (t) => {
  const taps = [new Tap(), new Tap()]
  const s = new nn.Sequential(taps[0], new nn.Flatten(), taps[1], new nn.Linear(6, 2)).eval()
  const x = rand([2, 2, 3], 1)
  const y = s.forward(x)
  t.true(released(taps[0].seen[0].out)); t.true(released(taps[1].seen[0].out))
  t.false(x.isDisposed); t.false(y.isDisposed)
  t.throws(() => s.backward(y), { message: /^Sequential: backward needs a forward first/ })
  s.train()
  s.forward(x)
  const first = taps[1].seen[1].out
  t.false(released(first))
  const y2 = s.forward(x)
  t.true(released(first), 'the unused forward\'s intermediates are released')
  t.false(y2.isDisposed)
  s.backward(rand([2, 2], 3))
})

test('ModuleList: push, at, length, iteration, PyTorch names; no forward of its own', (t) => {
  const l = new nn.ModuleList([new nn.Linear(2, 2)])
  l.push(new nn.Linear(2, 3)).append(new nn.ReLU())
  t.is(l.length, 3)
  t.true(l.at(-1) instanceof nn.ReLU)
  t.deepEqual([...l].map((m) => m.constructor.name), ['Linear', 'Linear', 'ReLU'])
  t.deepEqual(Object.keys(l.stateDict()), ['0.weight', '0.bias', '1.weight', '1.bias'])
  t.is(l.numParameters(), 6 + 9)
  t.throws(() => l.forward(), { message: /^ModuleList: has no forward of its own/ })
  // As a child of a user module.
  class Stack extends nn.Module {
    constructor () { super(); this.layers = new nn.ModuleList([new nn.Linear(2, 2), new nn.Linear(2, 1)]) }
    forward (x) { for (const m of this.layers) x = m.forward(x); return x }
    backward (dy) { for (let i = this.layers.length - 1; i >= 0; i--) dy = this.layers.at(i).backward(dy); return dy }
  }
  const st = new Stack()
  t.deepEqual(Object.keys(st.stateDict()), ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias'])
  st.forward(rand([3, 2], 1))
  t.deepEqual([...st.backward(rand([3, 1], 2)).shape], [3, 2])
})

test('ModuleDict: insertion order (numeric-looking keys too), get/set/has/delete, any key without dots', (t) => {
  const d = new nn.ModuleDict([['b', new nn.Linear(1, 1)], ['10', new nn.Linear(1, 2)]])
  d.set('keys', new nn.Linear(2, 1))
  t.deepEqual([...d], ['b', '10', 'keys'])
  t.deepEqual(Object.keys(d.stateDict()), ['b.weight', 'b.bias', '10.weight', '10.bias', 'keys.weight', 'keys.bias'])
  t.true(d.get('keys') instanceof nn.Linear)
  t.is(typeof d.keys, 'function', 'a key never shadows a method')
  t.true(d.has('10')); t.is(d.size, 3)
  t.true(d.delete('b') instanceof nn.Linear); t.false(d.has('b'))
  t.deepEqual(Object.keys(d.stateDict()), ['10.weight', '10.bias', 'keys.weight', 'keys.bias'])
  d.eval()
  t.false(d.get('10').training)
  const fromObject = new nn.ModuleDict({ enc: new nn.Linear(1, 1) })
  t.deepEqual([...fromObject.keys()], ['enc'])
})

// The step: forward, loss, backward, plain SGD on param.value.data, zeroGrad. No tidy, no
// dispose in the user's code: the modules release what they made. (Run here and, as
// source, in a child process.)
function makeStep (fv) {
  const nn = fv.nn
  fv.manualSeed(0)
  const model = new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(16 * 7 * 7, 10))
  const lossFn = new nn.CrossEntropyLoss()
  const x = fv.tensor(new Float32Array(16 * 784).map((_, i) => (i * 7919 % 1000) / 1000), [16, 1, 28, 28])
  const labels = Int32Array.from({ length: 16 }, (_, i) => i % 10)
  const params = model.parameters()
  return () => {
    const logits = model.forward(x)
    const loss = lossFn.forward(logits, labels)
    const dx = model.backward(lossFn.backward())
    for (const p of params) {
      const w = p.value.data; const g = p.grad.data
      for (let i = 0; i < w.length; i++) w[i] -= 0.05 * g[i]
    }
    model.zeroGrad()
    return { loss: loss.data[0], dx, xLive: !x.isDisposed }
  }
}

test('a training step in steady state takes no fresh pool memory (small CNN, plain SGD, no tidy)', (t) => {
  const { execFileSync } = require('child_process')
  const path = require('path')
  const script = `
    const fv = require('.')
    const step = (${makeStep.toString()})(fv)
    const first = step().loss
    step()
    const s0 = fv.poolStats()
    let last
    for (let i = 0; i < 100; i++) last = step()
    const s1 = fv.poolStats()
    console.log(JSON.stringify({ s0, s1, first, last: last.loss, dx: last.dx.shape, xLive: last.xLive }))`
  // One kernel thread: each thread's kernel scratch (pool blocks kept across calls) grows
  // to the largest piece of work it has run, so with several threads a rare late scratch
  // growth depends on scheduling, not on the modules (the next test covers many threads).
  const env = { ...process.env, FOVEAL_NUM_THREADS: '1', UV_THREADPOOL_SIZE: '1' }
  const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', env }))
  t.is(r.s1.misses, r.s0.misses, `pool misses over 100 steps: ${r.s1.misses - r.s0.misses}`)
  t.true(r.s1.hits >= r.s0.hits + 100 * 8, 'the steps did use the pool')
  t.is(r.s1.liveBytes, r.s0.liveBytes, 'live pool memory flat')
  t.is(r.s1.results.outstanding, 0, 'every result block the steps took came back')
  t.is(r.s1.results.byGc, r.s0.results.byGc, '… by dispose, not by garbage collection')
  t.true(r.last < r.first, `loss ${r.first} → ${r.last}`)
  t.deepEqual(r.dx, [16, 1, 28, 28]); t.true(r.xLive)
})

test('with every kernel thread, each result block of a training step comes back through dispose', (t) => {
  const step = makeStep(fv)
  for (let i = 0; i < 3; i++) step()
  const s0 = fv.poolStats()
  for (let i = 0; i < 20; i++) step()
  const s1 = fv.poolStats()
  t.true(s1.results.lent >= s0.results.lent + 20 * 8)
  t.is(s1.results.byDispose - s0.results.byDispose, s1.results.lent - s0.results.lent)
})

test('the same module in two containers keeps one parameter in namedParameters; user subclasses compose', (t) => {
  const shared = new nn.Linear(2, 2)
  const m = new nn.Sequential(shared, new nn.Sequential(shared))
  t.deepEqual(m.namedParameters().map(([k]) => k), ['0.weight', '0.bias'])
  class Head extends nn.Module {
    constructor () { super(); this.fc = new nn.Linear(4, 2); this.act = new nn.Tanh() }
    forward (x) { return this.act.forward(this.fc.forward(x)) }
    backward (dy) { return this.fc.backward(this.act.backward(dy)) }
  }
  const h = new Head()
  const x = rand([3, 4], 1)
  const y = h.forward(x)
  const dx = h.backward(rand([3, 2], 2))
  t.deepEqual([...y.shape], [3, 2]); t.deepEqual([...dx.shape], [3, 4])
  t.deepEqual(Object.keys(h.stateDict()), ['fc.weight', 'fc.bias'])
  assertClose(t, h.fc.bias.grad.data, h.fc.bias.grad.data, { label: 'grads exist' })
})
