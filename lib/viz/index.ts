// fv.viz: PNG in and out, digits prepared for an MNIST model, attention heat-maps, tile
// grids and training curves. Pictures are small, so these loop over pixels in JS.
export type { RgbaImage } from './image'
export { rgbaImage, greyToRgba, resizeArea, resizeBilinear } from './image'
export { encodePng, decodePng, readPng, writePng, toDigit } from './png'
export type { DigitOptions } from './png'
export { heatmap, colormap } from './heatmap'
export type { HeatmapOptions, ColormapName, GreyImage } from './heatmap'
export { grid, drawText, textWidth, CORRECT_COLOR, WRONG_COLOR, UNMARKED_COLOR } from './grid'
export type { GridTile, GridOptions } from './grid'
export { curvesSvg, curvesPng, renderSvg, niceTicks } from './curves'
export type { CurvePoint, CurvesOptions, RenderOptions } from './curves'
