// The picture type the viz modules pass around, and the resampling they share.

/** An 8-bit RGBA picture, row-major, 4 bytes per pixel (what pngjs reads and writes). */
export interface RgbaImage {
  width: number
  height: number
  data: Uint8Array
}

/** A blank RGBA picture filled with one colour (default opaque black). */
export function rgbaImage (width: number, height: number, fill: readonly number[] = [0, 0, 0, 255]): RgbaImage {
  const data = new Uint8Array(width * height * 4)
  for (let i = 0; i < data.length; i += 4) {
    data[i] = fill[0]; data[i + 1] = fill[1]; data[i + 2] = fill[2]; data[i + 3] = fill[3] ?? 255
  }
  return { width, height, data }
}

/** A grey picture (values in [0, 1], clamped) as opaque RGBA; `scale` repeats each pixel scale×scale times. */
export function greyToRgba (grey: ArrayLike<number>, width: number, height: number, scale = 1): RgbaImage {
  const out = rgbaImage(width * scale, height * scale)
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const v = grey[Math.floor(y / scale) * width + Math.floor(x / scale)]
      const b = Math.round(Math.min(1, Math.max(0, v)) * 255)
      const o = (y * out.width + x) * 4
      out.data[o] = b; out.data[o + 1] = b; out.data[o + 2] = b
    }
  }
  return out
}

/**
 * Area-averaging resize of a one-channel picture: each output pixel is the mean of the
 * source area it covers, fractional pixels weighted by coverage (a box filter; Pillow's
 * BOX, OpenCV's INTER_AREA). Shrinking keeps thin strokes as grey instead of dropping them,
 * which nearest or bilinear sampling does. Done separably: rows, then columns.
 */
export function resizeArea (src: Float32Array, width: number, height: number, outW: number, outH: number): Float32Array {
  const cols = areaWeights(width, outW)
  const rows = areaWeights(height, outH)
  const tmp = new Float32Array(height * outW)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outW; x++) {
      const { first, weights } = cols[x]
      let s = 0
      for (let k = 0; k < weights.length; k++) s += weights[k] * src[y * width + first + k]
      tmp[y * outW + x] = s
    }
  }
  const out = new Float32Array(outH * outW)
  for (let y = 0; y < outH; y++) {
    const { first, weights } = rows[y]
    for (let x = 0; x < outW; x++) {
      let s = 0
      for (let k = 0; k < weights.length; k++) s += weights[k] * tmp[(first + k) * outW + x]
      out[y * outW + x] = s
    }
  }
  return out
}

/** For each of m output cells over n input cells: the first input cell it covers and the coverage weights (summing to 1). */
function areaWeights (n: number, m: number): Array<{ first: number, weights: Float64Array }> {
  const scale = n / m
  const out = []
  for (let i = 0; i < m; i++) {
    const a = i * scale
    const b = (i + 1) * scale
    const first = Math.floor(a)
    const last = Math.min(n - 1, Math.ceil(b) - 1)
    const weights = new Float64Array(last - first + 1)
    for (let j = first; j <= last; j++) weights[j - first] = (Math.min(b, j + 1) - Math.max(a, j)) / scale
    out.push({ first, weights })
  }
  return out
}

/**
 * Bilinear resize with PyTorch's align_corners=false geometry (pixel centres at
 * (i + 0.5)·scale − 0.5, clamped at the edges): how an attention map [h, w] is spread
 * over the image it was computed from.
 */
export function resizeBilinear (src: ArrayLike<number>, width: number, height: number, outW: number, outH: number): Float32Array {
  const out = new Float32Array(outW * outH)
  const sy = height / outH
  const sx = width / outW
  for (let y = 0; y < outH; y++) {
    const fy = Math.min(height - 1, Math.max(0, (y + 0.5) * sy - 0.5))
    const y0 = Math.floor(fy)
    const y1 = Math.min(height - 1, y0 + 1)
    const wy = fy - y0
    for (let x = 0; x < outW; x++) {
      const fx = Math.min(width - 1, Math.max(0, (x + 0.5) * sx - 0.5))
      const x0 = Math.floor(fx)
      const x1 = Math.min(width - 1, x0 + 1)
      const wx = fx - x0
      const top = src[y0 * width + x0] * (1 - wx) + src[y0 * width + x1] * wx
      const bottom = src[y1 * width + x0] * (1 - wx) + src[y1 * width + x1] * wx
      out[y * outW + x] = top * (1 - wy) + bottom * wy
    }
  }
  return out
}
