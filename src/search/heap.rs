//! A query's running top-k: a bounded binary heap of keys (higher is better),
//! and the vectorised scans that let it skip, after the first rows, nearly every
//! score without touching the heap.

use multiversion::multiversion;

use super::metric::{rank_cmp, ranks_before};
use super::SearchScalar;

/// Scores tested against a threshold at a time (one vectorised compare).
pub(crate) const SCAN_CHUNK: usize = 32;

/// Which database rows a block of scores belongs to: score `j` of a block is row
/// `start + j`, or `listed[start + j]` for a filtered search (ascending either
/// way); results name a row by its id, `ids[row]` for an index with the
/// caller's ids, else the row itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockRows<'a> {
    pub start: usize,
    pub listed: Option<&'a [usize]>,
    pub ids: Option<&'a [usize]>,
}

impl BlockRows<'_> {
    /// The database row of score `j`.
    #[inline]
    pub fn row(&self, j: usize) -> usize {
        match self.listed {
            None => self.start + j,
            Some(listed) => listed[self.start + j],
        }
    }

    /// The id of score `j`'s row: what results hold and ties are broken by.
    #[inline]
    pub fn id(&self, j: usize) -> usize {
        let row = self.row(j);
        self.ids.map_or(row, |ids| ids[row])
    }
}

/// The offset of the first chunk of [`SCAN_CHUNK`] keys in `row` holding a key
/// above `threshold`, or `row.len()`.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
pub(crate) fn first_chunk_above<A: SearchScalar>(row: &[A], threshold: A) -> usize {
    first_chunk_where(row, |s| s > threshold)
}

/// The offset of the first chunk of [`SCAN_CHUNK`] keys in `row` holding a key
/// that is not below `threshold` (NaN included), or `row.len()`.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
pub(crate) fn first_chunk_not_below<A: SearchScalar>(row: &[A], threshold: A) -> usize {
    first_chunk_where(row, |s| not_below(s, threshold))
}

/// `s` is not below `t`: at least `t`, or either is NaN.
#[inline(always)]
pub(crate) fn not_below<A: SearchScalar>(s: A, t: A) -> bool {
    s.partial_cmp(&t) != Some(std::cmp::Ordering::Less)
}

#[inline(always)]
fn first_chunk_where<A: SearchScalar>(row: &[A], pass: impl Fn(A) -> bool) -> usize {
    let (chunks, rest) = row.as_chunks::<SCAN_CHUNK>();
    for (c, chunk) in chunks.iter().enumerate() {
        if chunk.iter().fold(false, |hit, &s| hit | pass(s)) {
            return c * SCAN_CHUNK;
        }
    }
    if rest.iter().any(|&s| pass(s)) {
        row.len() - rest.len()
    } else {
        row.len()
    }
}

/// The best `cap` of the `(key, row)` pairs offered, by [`rank_cmp`]; the pair
/// that ranks last sits at the root.
#[derive(Debug, Clone)]
pub(crate) struct Heap<A> {
    keys: Vec<A>,
    ids: Vec<usize>,
    cap: usize,
}

impl<A: SearchScalar> Heap<A> {
    pub fn new(cap: usize) -> Self {
        Heap {
            keys: Vec::with_capacity(cap),
            ids: Vec::with_capacity(cap),
            cap,
        }
    }

    /// The `k` it keeps.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// The number of pairs kept.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_full(&self) -> bool {
        self.keys.len() == self.cap
    }

    /// The key that ranks last, once the heap is full.
    pub fn root(&self) -> Option<A> {
        if self.is_full() {
            self.keys.first().copied()
        } else {
            None
        }
    }

    /// Offers one pair, in any order of rows.
    #[inline]
    pub fn offer(&mut self, key: A, id: usize) {
        if !self.is_full() {
            self.push(key, id);
        } else if self.cap > 0 && ranks_before(key, id, self.keys[0], self.ids[0]) {
            self.replace_root(key, id);
        }
    }

    /// Offers the keys `row` of the rows `rows`, which all come after every row
    /// already offered.
    pub fn scan(&mut self, row: &[A], rows: BlockRows<'_>) {
        let mut j = 0;
        while !self.is_full() && j < row.len() {
            self.push(row[j], rows.id(j));
            j += 1;
        }
        if self.cap == 0 {
            return;
        }
        if rows.ids.is_some() {
            // The caller's ids need not grow with the rows: an equal key may win
            // its tie, so equal keys are tested too.
            while j < row.len() {
                j += first_chunk_not_below(&row[j..], self.keys[0]);
                let end = (j + SCAN_CHUNK).min(row.len());
                for (o, &s) in row[j..end].iter().enumerate() {
                    self.offer(s, rows.id(j + o));
                }
                j = end;
            }
            return;
        }
        // Ids are rows, ascending: an equal key never enters (the row kept is lower).
        while j < row.len() {
            let mut threshold = self.keys[0];
            if threshold.is_nan() {
                // Any number beats a NaN (the new row is higher, so a NaN does not).
                if !row[j].is_nan() {
                    self.replace_root(row[j], rows.id(j));
                }
                j += 1;
                continue;
            }
            j += first_chunk_above(&row[j..], threshold);
            let end = (j + SCAN_CHUNK).min(row.len());
            for (o, &s) in row[j..end].iter().enumerate() {
                if s > threshold {
                    self.replace_root(s, rows.id(j + o));
                    threshold = self.keys[0];
                }
            }
            j = end;
        }
    }

    #[inline]
    fn worse(&self, a: usize, b: usize) -> bool {
        ranks_before(self.keys[b], self.ids[b], self.keys[a], self.ids[a])
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.keys.swap(a, b);
        self.ids.swap(a, b);
    }

    fn push(&mut self, key: A, id: usize) {
        let mut pos = self.keys.len();
        self.keys.push(key);
        self.ids.push(id);
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.worse(pos, parent) {
                self.swap(pos, parent);
                pos = parent;
            } else {
                break;
            }
        }
    }

    fn replace_root(&mut self, key: A, id: usize) {
        self.keys[0] = key;
        self.ids[0] = id;
        let len = self.keys.len();
        let mut pos = 0;
        loop {
            let left = 2 * pos + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.worse(right, left) {
                right
            } else {
                left
            };
            if self.worse(child, pos) {
                self.swap(child, pos);
                pos = child;
            } else {
                break;
            }
        }
    }

    /// The kept pairs, best first.
    pub fn into_sorted(self) -> Vec<(A, usize)> {
        let mut pairs: Vec<(A, usize)> = self.keys.into_iter().zip(self.ids).collect();
        pairs.sort_unstable_by(rank_cmp);
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain answer: every pair sorted (key descending, NaN last, then row), the first `k`.
    fn sorted_top(keys: &[f64], k: usize) -> Vec<(usize, u64)> {
        let mut pairs: Vec<(f64, usize)> = keys.iter().copied().zip(0..).collect();
        pairs.sort_by(|a, b| match (a.0.is_nan(), b.0.is_nan()) {
            (false, false) => b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)),
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (true, true) => a.1.cmp(&b.1),
        });
        pairs.into_iter().take(k).map(|(s, i)| (i, s.to_bits())).collect()
    }

    #[test]
    fn scan_and_offer_equal_a_plain_sort_with_nans_and_ties() {
        let mut seed = 3u64;
        let mut next = |m: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for case in 0..400 {
            let n = next(300) as usize;
            let keys: Vec<f64> = (0..n)
                .map(|_| match next(10) {
                    0 => f64::NAN,
                    1 => f64::NEG_INFINITY,
                    2 => -0.0,
                    _ => next(7) as f64 - 3.0, // many ties
                })
                .collect();
            let k = 1 + next(40) as usize;
            let want = sorted_top(&keys, k);
            // Scanned in blocks of rows, as the search does.
            let mut heap = Heap::new(k);
            let mut start = 0;
            while start < n {
                let end = (start + 1 + next(70) as usize).min(n);
                heap.scan(
                    &keys[start..end],
                    BlockRows {
                        start,
                        listed: None,
                        ids: None,
                    },
                );
                start = end;
            }
            let got: Vec<(usize, u64)> = heap.into_sorted().into_iter().map(|(s, i)| (i, s.to_bits())).collect();
            // -0.0 and 0.0 are equal keys: compare them as the same value.
            let norm = |v: Vec<(usize, u64)>| -> Vec<(usize, u64)> {
                v.into_iter()
                    .map(|(i, b)| (i, if f64::from_bits(b) == 0.0 { 0 } else { b }))
                    .collect()
            };
            assert_eq!(norm(got), norm(want.clone()), "case {case} scan");
            // Offered one by one in reverse order: the same set.
            let mut heap = Heap::new(k);
            for (i, &s) in keys.iter().enumerate().rev() {
                heap.offer(s, i);
            }
            let got: Vec<(usize, u64)> = heap.into_sorted().into_iter().map(|(s, i)| (i, s.to_bits())).collect();
            assert_eq!(norm(got), norm(want), "case {case} offer");
        }
    }

    #[test]
    fn listed_rows_map_scores_to_their_rows() {
        let listed = [3, 8, 20, 21];
        let mut heap = Heap::new(2);
        heap.scan(
            &[1.0, 5.0],
            BlockRows {
                start: 0,
                listed: Some(&listed),
                ids: None,
            },
        );
        heap.scan(
            &[5.0, 7.0],
            BlockRows {
                start: 2,
                listed: Some(&listed),
                ids: None,
            },
        );
        assert_eq!(heap.into_sorted(), vec![(7.0, 21), (5.0, 8)]);
    }

    #[test]
    fn ids_that_do_not_grow_with_the_rows_break_ties_by_the_lower_id() {
        let ids = [30, 20, 10, 5, 40];
        let rows = |start| BlockRows {
            start,
            listed: None,
            ids: Some(&ids),
        };
        let mut heap = Heap::new(2);
        heap.scan(&[1.0, 1.0], rows(0));
        heap.scan(&[1.0, 0.0, 1.0], rows(2));
        assert_eq!(heap.into_sorted(), vec![(1.0, 10), (1.0, 20)]);
        let mut heap = Heap::new(1);
        heap.scan(&[f64::NAN, f64::NAN, f64::NAN], rows(0));
        assert_eq!(heap.into_sorted()[0].1, 10);
    }
}
