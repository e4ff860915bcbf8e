//! Exact top-k similarity search by inner product and cosine.
