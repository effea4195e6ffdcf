"""PyTorch timings for bench/suites/nn_attention.js, the protocol of torch_bench.py: reads
{"threads", "cases": [...]} as JSON on stdin, prints {"results": [{"ms": median} | {"error"}]}.
Cases: {"op": "mha", "B", "L", "E", "H", "batchFirst", "needWeights", "backward"}."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bench import timed  # noqa: E402  (the same warm-up and median as every torch row)


def case_mha(c):
    B, L, E, H = c["B"], c["L"], c["E"], c["H"]
    bf = c.get("batchFirst", True)
    m = torch.nn.MultiheadAttention(E, H, batch_first=bf)
    shape = (B, L, E) if bf else (L, B, E)
    x = torch.randn(*shape, requires_grad=c.get("backward", False))
    nw = c.get("needWeights", False)
    if not c.get("backward"):
        m.eval()

        def fwd():
            with torch.no_grad():
                return m(x, x, x, need_weights=nw)
        return fwd
    g = torch.randn(*shape)

    def step():
        out, _ = m(x, x, x, need_weights=nw)
        out.backward(g)  # x.grad and every parameter's grad accumulate, as foveal's modules do
    return step


def main():
    spec = json.load(sys.stdin)
    torch.set_num_threads(int(spec["threads"]))
    results = []
    for c in spec["cases"]:
        try:
            if c["op"] != "mha":
                results.append({"error": "no torch case for op " + c["op"]})
                continue
            results.append({"ms": timed(case_mha(c))})
        except Exception as e:  # a peer failure is a row note, not a crash
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump({"results": results, "version": torch.__version__}, sys.stdout)


if __name__ == "__main__":
    main()
