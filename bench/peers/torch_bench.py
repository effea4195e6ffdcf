"""PyTorch timings for foveal's bench: reads {"threads", "cases": [...]} as JSON on stdin,
prints {"results": [{"ms": median} | {"error": ...}]}. Each case names an op the table
below knows; shapes and options match the foveal row it sits beside."""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def timed(fn, min_runs=5, min_seconds=0.5, warmup=2):
    for _ in range(warmup):
        fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_runs or (time.perf_counter() - start < min_seconds and len(samples) < 200):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def randn(*shape, grad=False):
    return torch.randn(*shape, dtype=torch.float32, requires_grad=grad)


def case_matmul(c):
    a, b = randn(c["M"], c["K"]), randn(c["K"], c["N"])
    out = torch.empty(c["M"], c["N"])
    return lambda: torch.matmul(a, b, out=out)


def case_linear(c):
    x, w, b = randn(c["M"], c["K"]), randn(c["N"], c["K"]), randn(c["N"])
    return lambda: F.linear(x, w, b)


def case_attention(c):
    q = randn(c["B"], c["H"], c["Lq"], c["D"], grad=c.get("backward", False))
    k = randn(c["B"], c["Hkv"], c["Lk"], c["D"], grad=c.get("backward", False))
    v = randn(c["B"], c["Hkv"], c["Lk"], c["Dv"], grad=c.get("backward", False))
    causal = c.get("causal", False)
    if not c.get("backward"):
        def fwd():
            with torch.no_grad():
                return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return fwd
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    g = torch.randn_like(out)
    return lambda: torch.autograd.grad(out, (q, k, v), g, retain_graph=True)


def case_conv2d(c):
    x = randn(c["N"], c["C"], c["H"], c["W"], grad=c.get("backward", False))
    w = randn(c["Cout"], c["C"] // c.get("groups", 1), c["kh"], c["kw"], grad=c.get("backward", False))
    kw = dict(stride=c.get("stride", 1), padding=c.get("padding", 0), dilation=c.get("dilation", 1), groups=c.get("groups", 1))
    if not c.get("backward"):
        def fwd():
            with torch.no_grad():
                return F.conv2d(x, w, None, **kw)
        return fwd
    y = F.conv2d(x, w, None, **kw)
    g = torch.randn_like(y)
    return lambda: torch.autograd.grad(y, (x, w), g, retain_graph=True)


def case_pool2d(c, fn):
    x = randn(c["N"], c["C"], c["H"], c["W"])

    def fwd():
        with torch.no_grad():
            return fn(x, c["k"], c["stride"], c.get("padding", 0))
    return fwd


def case_global_avg_pool2d(c):
    x = randn(c["N"], c["C"], c["H"], c["W"])

    def fwd():
        with torch.no_grad():
            return F.adaptive_avg_pool2d(x, 1)
    return fwd


def dense_op(c):
    """(f, inputs, grad_inputs) for bench/suites/dense.js: f(*inputs) is the op."""
    fn, grad = c["fn"], c.get("backward", False)
    shape = c.get("shape")
    if fn in ("relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "softmax", "log_softmax", "dropout"):
        x = randn(*shape, grad=grad)
        f = {
            "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "gelu": F.gelu,
            "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
            "softmax": lambda t: F.softmax(t, dim=-1), "log_softmax": lambda t: F.log_softmax(t, dim=-1),
            "dropout": lambda t: F.dropout(t, p=c.get("p", 0.5), training=True),
        }[fn]
        return f, [x], [x]
    if fn in ("add", "mul"):
        a, b = randn(*c["a"], grad=grad), randn(*c["b"], grad=grad)
        return (torch.add if fn == "add" else torch.mul), [a, b], [a, b]
    if fn == "layer_norm":
        x, w, b = randn(*shape, grad=grad), randn(shape[-1], grad=grad), randn(shape[-1], grad=grad)
        return (lambda x, w, b: F.layer_norm(x, (shape[-1],), w, b)), [x, w, b], [x, w, b]
    if fn == "batch_norm":
        C = shape[1]
        x, w, b = randn(*shape, grad=grad), randn(C, grad=grad), randn(C, grad=grad)
        rm, rv = torch.zeros(C), torch.ones(C)
        training = c.get("training", False)
        return (lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=training)), [x, w, b], [x, w, b]
    if fn == "group_norm":
        C = shape[1]
        x, w, b = randn(*shape, grad=grad), randn(C, grad=grad), randn(C, grad=grad)
        return (lambda x, w, b: F.group_norm(x, c["groups"], w, b)), [x, w, b], [x, w, b]
    if fn == "cross_entropy":
        x = randn(c["N"], c["C"], grad=grad)
        labels = torch.randint(0, c["C"], (c["N"],))
        return (lambda x: F.cross_entropy(x, labels)), [x], [x]
    if fn == "mse":
        p, t = randn(*shape, grad=grad), randn(*shape)
        return (lambda p: F.mse_loss(p, t)), [p], [p]
    if fn == "bce_logits":
        x, t = randn(*shape, grad=grad), torch.rand(*shape)
        pw = torch.rand(shape[-1]) * 2.5 + 0.5
        return (lambda x: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw)), [x], [x]
    if fn == "embedding":
        w = randn(c["num"], c["dim"], grad=grad)
        idx = torch.randint(0, c["num"], tuple(c["idx"]))
        return (lambda w: F.embedding(idx, w)), [w], [w]
    if fn == "spatial_gate":
        C = shape[1]
        x, wa, wb = randn(*shape, grad=grad), randn(1, C, 1, 1, grad=grad), randn(1, C, 1, 1, grad=grad)
        ba, bb = randn(1, grad=grad), randn(1, grad=grad)
        f = lambda x, wa, ba, wb, bb: x * torch.sigmoid(F.conv2d(x, wa, ba) * F.conv2d(x, wb, bb))
        return f, [x, wa, ba, wb, bb], [x, wa, ba, wb, bb]
    if fn == "channel_pool":
        x = randn(*shape, grad=grad)
        return (lambda x: torch.cat([x.mean(1, keepdim=True), x.max(1, keepdim=True)[0]], 1)), [x], [x]
    raise ValueError("no dense op " + fn)


def case_dense(c):
    f, inputs, grads = dense_op(c)
    if not c.get("backward"):
        def fwd():
            with torch.no_grad():
                return f(*inputs)
        return fwd
    y = f(*inputs)
    g = torch.randn_like(y)
    return lambda: torch.autograd.grad(y, grads, g, retain_graph=True)


def case_attention_math(c):
    """softmax(q·kᵀ·scale + causal mask)·v written out, as nn.MultiheadAttention computes it:
    PyTorch 1.13 has no F.scaled_dot_product_attention (it came in 2.0). Forward under
    no_grad, or the autograd backward alone (the forward graph is built once, untimed)."""
    grad = c.get("backward", False)
    B, H, Hkv, Lq, Lk, D, Dv = c["B"], c["H"], c.get("Hkv", c["H"]), c["Lq"], c["Lk"], c["D"], c.get("Dv", c["D"])
    q = randn(B, H, Lq, D, grad=grad)
    k = randn(B, Hkv, Lk, D, grad=grad)
    v = randn(B, Hkv, Lk, Dv, grad=grad)
    scale = 1.0 / (D ** 0.5)
    mask = None
    if c.get("causal", False):
        mask = torch.full((Lq, Lk), float("-inf")).triu(Lk - Lq + 1)

    def forward():
        s = torch.matmul(q * scale, k.transpose(-2, -1))
        if mask is not None:
            s = s + mask
        return torch.matmul(torch.softmax(s, dim=-1), v)

    if not grad:
        def fwd():
            with torch.no_grad():
                return forward()
        return fwd
    out = forward()
    g = torch.randn_like(out)
    return lambda: torch.autograd.grad(out, (q, k, v), g, retain_graph=True)


def case_optim(c):
    """One optimizer step (or clip_grad_norm_) over a single parameter of n elements, its
    state created by an untimed first step. foreach: False (single-tensor), True, or None
    (the optimizer's default: False in PyTorch 1.13 on the CPU)."""
    p = torch.randn(c["n"], requires_grad=True)
    p.grad = torch.randn(c["n"])
    if c["optimizer"] == "clip_grad_norm":
        return lambda: torch.nn.utils.clip_grad_norm_([p], c.get("max_norm", 1.0))
    opt = getattr(torch.optim, c["optimizer"])([p], foreach=c.get("foreach"), **c.get("options", {}))
    opt.step()
    return opt.step


class SpatialGate(torch.nn.Module):
    """x · σ(conv1x1_a(x) ⊙ conv1x1_b(x)), foveal's fv.nn.SpatialGate (names conv_a, conv_b)."""

    def __init__(self, channels):
        super().__init__()
        self.conv_a = torch.nn.Conv2d(channels, 1, 1)
        self.conv_b = torch.nn.Conv2d(channels, 1, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.conv_a(x) * self.conv_b(x))


def train_model(name):
    nn = torch.nn
    if name == "reference_gate":
        # Issue 10's reference gate CNN: 28 → 26 → 24 → 12, flatten 9216, linear → 10.
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                             SpatialGate(64), nn.Flatten(), nn.Linear(9216, 10))
    if name == "train_gate":
        # `foveal train --model gate` (lib/train/architectures.ts).
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), SpatialGate(32),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
    raise ValueError("no model " + name)


def case_train_step(c):
    """One step: forward, cross-entropy, backward, Adam — as PyTorch users write it."""
    model = train_model(c["model"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(c["batch"], 1, 28, 28)
    y = torch.randint(0, 10, (c["batch"],))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return step


def case_infer(c):
    model = train_model(c["model"]).eval()
    x = torch.rand(c["batch"], 1, 28, 28)

    def fwd():
        with torch.no_grad():
            return model(x)
    return fwd


CASES = {"train_step": case_train_step, "infer": case_infer, "matmul": case_matmul, "linear": case_linear, "attention": case_attention, "conv2d": case_conv2d,
         "dense": case_dense, "max_pool2d": lambda c: case_pool2d(c, F.max_pool2d),
         "avg_pool2d": lambda c: case_pool2d(c, F.avg_pool2d), "global_avg_pool2d": case_global_avg_pool2d,
         "attention_math": case_attention_math, "optim": case_optim}


def main():
    spec = json.load(sys.stdin)
    torch.set_num_threads(int(spec["threads"]))
    results = []
    for c in spec["cases"]:
        try:
            make = CASES.get(c["op"])
            if make is None:
                results.append({"error": "no torch case for op " + c["op"]})
                continue
            results.append({"ms": timed(make(c))})
        except Exception as e:  # a peer failure is a row note, not a crash
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump({"results": results, "version": torch.__version__}, sys.stdout)


if __name__ == "__main__":
    main()
