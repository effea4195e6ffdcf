"""Fits the polynomial coefficients of native/cpu/simd/vmath.h and prints them as float
literals. Run with a Python that has numpy and mpmath (Debian: python3-numpy,
python3-mpmath):  python3 scripts/vmath/fit.py

Each fit is a near-minimax polynomial by Lawson's algorithm (iteratively reweighted least
squares on Chebyshev nodes), weighted for relative error, against the function evaluated
by mpmath at 40 digits. The printed worst relative errors are those of the fit in double
precision; scripts/vmath/ulp.sh measures the float32 code that uses them.
"""
import numpy as np
import mpmath as mp

mp.mp.dps = 40


def lawson(xs, basis, target, weight, iters=300):
    A = np.array([[b(x) for b in basis] for x in xs])
    y = np.array([target(x) for x in xs])
    w = np.array([weight(x) for x in xs])
    lw = np.ones(len(xs)) / len(xs)
    for _ in range(iters):
        s = np.sqrt(lw)
        c, *_ = np.linalg.lstsq(A * (s * w)[:, None], y * s * w, rcond=None)
        e = np.abs((A @ c - y) * w)
        lw = lw * e
        lw /= lw.sum()
    return c, e.max()


def cheb(a, b, n):
    k = np.arange(n)
    return (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / n)


def show(name, coeffs, err, note):
    lits = ", ".join("%.9gf" % np.float32(c) for c in coeffs)
    print("%s (%s): max relative error %.2g\n  %s\n" % (name, note, err, lits))


# e^r = 1 + r + r²·q(r) on |r| ≤ ln2/2, q of degree 4 (Horner from the highest term).
h = float(mp.log(2) / 2)
c, e = lawson(cheb(-h, h, 3000), [lambda x, k=k: x ** (k + 2) for k in range(5)],
              lambda x: float(mp.exp(x) - 1 - x), lambda x: 1 / float(mp.exp(x)))
show("vexp q(r)", c[::-1], e, "highest degree first")

# tanh x = x + x³·P(x²) on 0 < x < 0.625, P of degree 4.
c, e = lawson(cheb(1e-4, 0.625, 3000), [lambda x, k=k: x ** (2 * k + 3) for k in range(5)],
              lambda x: float(mp.tanh(x) - x), lambda x: 1 / float(mp.tanh(x)))
show("vtanh P(x²)", c[::-1], e, "highest degree first")

# Φ(x) = 0.5 + x·P(x²) on |x| ≤ 1 (fitted on the lower half, relative to Φ(−x)).
c, e = lawson(cheb(1e-4, 1.0, 3000), [lambda x, k=k: x ** (2 * k + 1) for k in range(6)],
              lambda x: float(mp.ncdf(-x) - 0.5), lambda x: 1 / float(mp.ncdf(-x)))
show("vncdf_inner P(x²)", -c[::-1], e, "highest degree first, for Φ(x) = 0.5 + x·P")

# S(u) = Φ(−u)·e^{u²/2} = t·R(t), t = 1/(1 + 0.375u), on 1 ≤ u ≤ 14.6, R of degree 8.
cc = 0.375
us = cheb(1.0, 14.6, 4000)
ts = 1 / (1 + cc * us)


def S(t):
    u = (1 / t - 1) / cc
    return float(mp.ncdf(-u) * mp.exp(u * u / 2))


c, e = lawson(ts, [lambda t, k=k: t ** (k + 1) for k in range(9)], S, lambda t: 1 / S(t), iters=200)
show("vncdf_mills R(t)", c[::-1], e, "highest degree first")
