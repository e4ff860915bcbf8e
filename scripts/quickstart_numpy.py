"""Prints what NumPy gives for each step of examples/quickstart.rs.

The example carries these values (as `numpy:` lines) and asserts it agrees with them;
rerun this script after changing the example's inputs: python3 scripts/quickstart_numpy.py
"""
import numpy as np

np.set_printoptions(precision=6, suppress=True)

print("1-D dot:", np.inner(np.array([1, 2, 3]), np.array([0, 1, 0])))
a = np.arange(24).reshape((2, 3, 4))
print("3-D with 1-D:", np.inner(a, np.arange(4)).tolist())
print("scalar:", np.inner(np.eye(2), 7.0).tolist())
A = np.array([[1.0, 2.0], [3.0, 4.0]])
B = np.array([[1.0, 3.0], [2.0, 4.0]])
print("2-D:", np.inner(A, B).tolist())
t = np.inner(a, a)
print("3-D tensor: shape", t.shape, "t[1,2,0,1] =", t[1, 2, 0, 1], "sum =", t.sum())
queries = np.array([[0.1, 0.3, 0.5, 0.7], [0.9, 0.1, 0.0, 0.2]])
docs = np.array([[0.2, 0.4, 0.4, 0.8], [1.0, 0.0, 0.1, 0.1], [0.5, 0.5, 0.5, 0.5]])
print("scores:", np.inner(queries, docs).tolist())
qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
dn = docs / np.linalg.norm(docs, axis=1, keepdims=True)
print("cosine:", np.inner(qn, dn).tolist())
x = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]])
W = np.array([[0.2, 0.1, -0.4], [1.5, -0.3, 0.0]])
bias = np.array([0.1, -0.2])
print("dense:", (np.inner(x, W) + bias).tolist())
print("complex vdot-style:", np.inner(np.conj(np.array([1 + 2j, 3 - 1j])), np.array([2 - 1j, 1j])))
