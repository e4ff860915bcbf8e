"""Prints what NumPy gives for each step of examples/quickstart.rs, in the example's order.

The example carries these values (its `NumPy` column) and asserts that the crate agrees with
them, so CI, which runs the quickstart, fails if either side drifts. Rerun this script after
changing an input of the example and paste the new values: python3 scripts/quickstart_numpy.py

Lists are printed with Python's shortest round-trip floats, the digits ndarray's Display
prints for the same f64, so the two columns of the example read alike.
"""
import numpy as np


def show(label, value):
    value = np.asarray(value)
    print(f"{label}: {value.tolist()!r}  # shape {value.shape}, {value.dtype}")


print("# The np.inner tutorial")
show("1. vectors", np.inner(np.array([1, 2, 3]), np.array([4, 5, 6])))

A = np.array([[1, 2, 3], [4, 5, 6]])
B = np.array([[7, 8, 9], [10, 11, 12]])
show("2. matrices", np.inner(A, B))

P = np.array([[1, 2], [3, 4]])
Q = np.array([[5, 6], [7, 8]])
show("3. inner", np.inner(P, Q))
show("3. dot", np.dot(P, Q))
assert (np.inner(P, Q.T) == np.dot(P, Q)).all()

# The tutorial prints other numbers for these cosines and for the dense layer below; these
# are NumPy's for the inputs shown.
docs = np.array([[0.5, 0.3, 0.2, 0.0], [0.4, 0.4, 0.1, 0.1], [0.0, 0.1, 0.3, 0.6]])
norms = np.linalg.norm(docs, axis=1)
show("4. cosines", np.inner(docs, docs) / np.outer(norms, norms))

query = np.array([1.0, 2.0, 3.0, 4.0])
# Chosen for the example (the tutorial's database is not in this repository).
database = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.9, 0.1, 0.0, 0.0], [0.0, 0.5, 0.5, 1.0]])
scores = np.inner(database, query)
show("5. scores", scores)
show("5. best match", np.argmax(scores))

# Chosen for the example: X (3 samples, 4 features), W (2 neurons, 4 weights each, stored
# (out, in) as in PyTorch's Linear), y = X Wᵀ + b.
X = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.0, 2.0], [-1.0, 0.0, 1.0, 0.5]])
W = np.array([[0.1, 0.2, 0.3, 0.4], [-0.5, 0.5, -0.5, 0.5]])
b = np.array([0.1, -0.1])
show("6. dense layer", np.inner(X, W) + b)

a3 = np.arange(60).reshape((3, 4, 5))
b2 = np.arange(30).reshape((6, 5))
t = np.inner(a3, b2)
assert (t == np.einsum("ijk,lk->ijl", a3, b2)).all()
show("7. (3,4,5) with (6,5)", t)

try:
    np.inner(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([1.0, 2.0, 3.0, 4.0]))
except ValueError as err:
    print(f"8. error: {err}")

print("# Beyond the tutorial")
show("9. N-D with 1-D", np.inner(np.arange(24).reshape((2, 3, 4)), np.arange(4)))
show("10. 0-d operand", np.inner(np.eye(2), 7.0))
h = np.vdot(np.array([1 + 2j, 3 - 1j]), np.array([2 - 1j, 1j]))
print(f"11. complex, conjugated (np.vdot): {h!r}")
queries = np.array([[0.1, 0.3, 0.5, 0.7], [0.9, 0.1, 0.0, 0.2]])
corpus = np.array([[0.2, 0.4, 0.4, 0.8], [1.0, 0.0, 0.1, 0.1], [0.5, 0.5, 0.5, 0.5]])
cos = np.inner(queries, corpus) / np.outer(np.linalg.norm(queries, axis=1), np.linalg.norm(corpus, axis=1))
best2 = np.argsort(-cos, axis=1, kind="stable")[:, :2]
show("12. top-2 indices", best2)
show("12. top-2 cosines", np.take_along_axis(cos, best2, axis=1))
