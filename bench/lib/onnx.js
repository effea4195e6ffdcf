'use strict'
// Builds small ONNX models in memory (with onnx-proto's generated encoder), so each bench
// row can hand onnxruntime-node the same op on the same shapes.
//
//   model({ inputs: [['x', [8, 64]]], outputs: [['y', [8, 32]]],
//           initializers: [['w', [64, 32], Float32Array]],
//           nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }] })
// An input or initializer that is not float names its type third / fourth:
//   ['labels', [N], 'int64'] · ['training_mode', [], Uint8Array.of(1), 'bool']
const { onnx } = require('onnx-proto')

const FLOAT = 1

/** Marks a number as a float attribute (plain integers otherwise become INT attributes). */
function float (v) { return { __float: v } }

function attribute (name, v) {
  const A = onnx.AttributeProto.AttributeType
  if (v && typeof v === 'object' && '__float' in v) return { name, type: A.FLOAT, f: v.__float }
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v }
  if (typeof v === 'string') return { name, type: A.STRING, s: Buffer.from(v) }
  if (Array.isArray(v)) {
    return v.every(Number.isInteger) ? { name, type: A.INTS, ints: v } : { name, type: A.FLOATS, floats: v }
  }
  throw new Error(`onnx attribute ${name}: unsupported value ${v}`)
}

// ONNX element types by name, for inputs and initializers that are not float.
const ELEM_TYPE = { float: 1, int32: 6, int64: 7, bool: 9 }

function valueInfo ([name, shape, type]) {
  return {
    name,
    type: {
      tensorType: {
        elemType: type ? ELEM_TYPE[type] : FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) }
      }
    }
  }
}

function model ({ inputs, outputs, nodes, initializers = [], opset = 17, msOpset = 1 }) {
  const graph = {
    name: 'bench',
    input: inputs.map(valueInfo),
    output: outputs.map(valueInfo),
    initializer: initializers.map(([name, dims, data, type]) => ({
      name, dims, dataType: type ? ELEM_TYPE[type] : FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    })),
    node: nodes.map((n, i) => ({
      name: `n${i}`,
      opType: n.op,
      domain: n.domain || '',
      input: n.inputs,
      output: n.outputs,
      attribute: Object.entries(n.attrs || {}).map(([k, v]) => attribute(k, v))
    }))
  }
  const m = {
    irVersion: 8,
    producerName: 'foveal-bench',
    opsetImport: [{ domain: '', version: opset }, { domain: 'com.microsoft', version: msOpset }],
    graph
  }
  return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish()
}

module.exports = { model, float }
