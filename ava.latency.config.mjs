// The latency test (examples/serve.js answering within 50 ms p99 while it trains) runs on its
// own, after the main suite (`npm test` runs both): next to other test files' work on a
// 2-core machine it would measure their load, not the server.
export default {
  files: ['test/serve.latency.js'],
  timeout: '5m',
  workerThreads: false
}
