//! The RFC 6962 Merkle tree over the ledger: SHA-256, leaf = SHA-256(0x00 ‖ record hash),
//! node = SHA-256(0x01 ‖ left ‖ right), empty root = SHA-256(""). Leaf *i* is built from the
//! 32-byte BLAKE3 hash of the record at position *i* (DOMAIN.md).
//!
//! The store keeps the hash of every complete subtree (level, index), written with the records
//! they cover, so the root of any size and any proof take O(log n) reads. The proof and
//! verification algorithms are RFC 6962 §2.1 (generation) and RFC 9162 §2.1.3.2 / §2.1.4.2
//! (verification). Pure: callers pass a [`NodeSource`].

use sha2::{Digest, Sha256};

/// A SHA-256 tree hash.
pub type TreeHash = [u8; 32];

/// The leaf hash of a record hash: SHA-256(0x00 ‖ record hash).
pub fn leaf_hash(record_hash: &[u8; 32]) -> TreeHash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(record_hash);
    h.finalize().into()
}

/// An interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &TreeHash, right: &TreeHash) -> TreeHash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> TreeHash {
    Sha256::digest([]).into()
}

/// Where complete subtree hashes come from: level 0 holds leaf hashes; (level, index) covers
/// leaves `index·2^level .. (index+1)·2^level`.
pub trait NodeSource {
    type Error;
    fn node(&self, level: u8, index: u64) -> Result<TreeHash, Self::Error>;
}

fn largest_power_of_two_below(n: u64) -> u64 {
    // The largest power of two strictly smaller than n (n ≥ 2).
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The Merkle tree hash of leaves `start .. start + size` (size ≥ 1).
pub fn subtree_root<S: NodeSource>(src: &S, start: u64, size: u64) -> Result<TreeHash, S::Error> {
    if size.is_power_of_two() && start.is_multiple_of(size) {
        return src.node(size.trailing_zeros() as u8, start / size);
    }
    let k = largest_power_of_two_below(size);
    let left = subtree_root(src, start, k)?;
    let right = subtree_root(src, start + k, size - k)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves.
pub fn root<S: NodeSource>(src: &S, size: u64) -> Result<TreeHash, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    subtree_root(src, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 6962 PATH), from the
/// leaf's sibling up to the root's child. Callers check `index < size`.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<TreeHash>, S::Error> {
    let mut out = Vec::new();
    path(src, index, 0, size, &mut out)?;
    Ok(out)
}

fn path<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    n: u64,
    out: &mut Vec<TreeHash>,
) -> Result<(), S::Error> {
    if n <= 1 {
        return Ok(());
    }
    let k = largest_power_of_two_below(n);
    if m < k {
        path(src, m, start, k, out)?;
        out.push(subtree_root(src, start + k, n - k)?);
    } else {
        path(src, m - k, start + k, n - k, out)?;
        out.push(subtree_root(src, start, k)?);
    }
    Ok(())
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves (RFC 6962
/// PROOF); empty when `old` is 0 or equal to `new`. Callers check `old <= new`.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<Vec<TreeHash>, S::Error> {
    let mut out = Vec::new();
    if old > 0 && old < new {
        subproof(src, old, 0, new, true, &mut out)?;
    }
    Ok(out)
}

fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    n: u64,
    complete: bool,
    out: &mut Vec<TreeHash>,
) -> Result<(), S::Error> {
    if m == n {
        if !complete {
            out.push(subtree_root(src, start, n)?);
        }
        return Ok(());
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        subproof(src, m, start, k, complete, out)?;
        out.push(subtree_root(src, start + k, n - k)?);
    } else {
        subproof(src, m - k, start + k, n - k, false, out)?;
        out.push(subtree_root(src, start, k)?);
    }
    Ok(())
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &TreeHash,
    index: u64,
    size: u64,
    proof: &[TreeHash],
    root: &TreeHash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2). From size 0 every tree is consistent.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &TreeHash,
    new_root: &TreeHash,
    proof: &[TreeHash],
) -> bool {
    if old > new {
        return false;
    }
    if old == 0 {
        return proof.is_empty() && *old_root == empty_root();
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<TreeHash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *old_root && sr == *new_root && snode == 0
}

/// The right edge of a growing tree: the complete subtrees of the current size, largest
/// first. Appending a leaf yields the new complete subtrees to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    edge: Vec<(u8, TreeHash)>,
}

impl Frontier {
    /// The frontier of a tree of `size` leaves, read from `src`.
    pub fn at<S: NodeSource>(src: &S, size: u64) -> Result<Frontier, S::Error> {
        let mut edge = Vec::new();
        let mut covered = 0u64;
        for level in (0..64u8).rev() {
            let span = 1u64 << level;
            if size & span != 0 {
                edge.push((level, src.node(level, covered / span)?));
                covered += span;
            }
        }
        Ok(Frontier { size, edge })
    }

    /// How many leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the leaf of `record_hash`; returns the complete subtrees it completes, as
    /// `((level, index), hash)`, the leaf itself first.
    pub fn push(&mut self, record_hash: &[u8; 32]) -> Vec<((u8, u64), TreeHash)> {
        let position = self.size;
        let leaf = leaf_hash(record_hash);
        let mut new = vec![((0u8, position), leaf)];
        self.edge.push((0, leaf));
        while self.edge.len() >= 2
            && self.edge[self.edge.len() - 1].0 == self.edge[self.edge.len() - 2].0
        {
            let (level, right) = self.edge.pop().unwrap_or_default();
            let (_, left) = self.edge.pop().unwrap_or_default();
            let parent = node_hash(&left, &right);
            let up = level + 1;
            new.push(((up, position >> up), parent));
            self.edge.push((up, parent));
        }
        self.size += 1;
        new
    }

    /// The root of the tree so far.
    pub fn root(&self) -> TreeHash {
        let mut iter = self.edge.iter().rev();
        match iter.next() {
            None => empty_root(),
            Some((_, last)) => iter.fold(*last, |acc, (_, h)| node_hash(h, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Every complete subtree of `n` leaves, built the slow way.
    struct Naive {
        leaves: Vec<TreeHash>,
        nodes: HashMap<(u8, u64), TreeHash>,
    }

    impl Naive {
        fn new(n: u64) -> Naive {
            let leaves: Vec<TreeHash> = (0..n)
                .map(|i| leaf_hash(blake3::hash(&i.to_be_bytes()).as_bytes()))
                .collect();
            let mut f = Frontier::default();
            let mut nodes = HashMap::new();
            for i in 0..n {
                for (k, h) in f.push(blake3::hash(&i.to_be_bytes()).as_bytes()) {
                    nodes.insert(k, h);
                }
            }
            Naive { leaves, nodes }
        }
        /// MTH straight from RFC 6962's definition.
        fn mth(&self, lo: usize, hi: usize) -> TreeHash {
            match hi - lo {
                0 => empty_root(),
                1 => self.leaves[lo],
                n => {
                    let k = largest_power_of_two_below(n as u64) as usize;
                    node_hash(&self.mth(lo, lo + k), &self.mth(lo + k, hi))
                }
            }
        }
    }

    impl NodeSource for Naive {
        type Error = String;
        fn node(&self, level: u8, index: u64) -> Result<TreeHash, String> {
            self.nodes
                .get(&(level, index))
                .copied()
                .ok_or_else(|| format!("no node ({level}, {index})"))
        }
    }

    #[test]
    fn roots_match_the_definition_and_the_frontier() {
        for n in 0..70u64 {
            let t = Naive::new(n);
            assert_eq!(root(&t, n).unwrap(), t.mth(0, n as usize), "size {n}");
            assert_eq!(Frontier::at(&t, n).unwrap().root(), t.mth(0, n as usize));
        }
        assert_eq!(
            crate::types::hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    proptest! {
        #[test]
        fn inclusion_proofs_verify_and_fail_when_anything_changes(n in 1u64..300, i in 0u64..300, flip in 0usize..64) {
            let i = i % n;
            let t = Naive::new(n);
            let r = root(&t, n).unwrap();
            let proof = inclusion_proof(&t, i, n).unwrap();
            let leaf = t.leaves[i as usize];
            prop_assert!(verify_inclusion(&leaf, i, n, &proof, &r));
            // The wrong size, against that size's own root.
            let bigger = Naive::new(n + 1);
            prop_assert!(!verify_inclusion(&leaf, i, n + 1, &proof, &root(&bigger, n + 1).unwrap()));
            if n > 1 {
                prop_assert!(!verify_inclusion(&leaf, (i + 1) % n, n, &proof, &r));
            }
            let mut bad_root = r;
            bad_root[flip % 32] ^= 1;
            prop_assert!(!verify_inclusion(&leaf, i, n, &proof, &bad_root));
            let mut bad_leaf = leaf;
            bad_leaf[flip % 32] ^= 1;
            prop_assert!(!verify_inclusion(&bad_leaf, i, n, &proof, &r));
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let at = flip % bad.len();
                bad[at][flip % 32] ^= 1;
                prop_assert!(!verify_inclusion(&leaf, i, n, &bad, &r));
            }
        }

        #[test]
        fn consistency_proofs_verify_and_fail_when_anything_changes(n in 1u64..300, m in 0u64..300, flip in 0usize..64) {
            let m = m % (n + 1);
            let t = Naive::new(n);
            let (old_root, new_root) = (root(&t, m).unwrap(), root(&t, n).unwrap());
            let proof = consistency_proof(&t, m, n).unwrap();
            prop_assert!(verify_consistency(m, n, &old_root, &new_root, &proof));
            if m > 0 && m < n {
                let mut bad_old = old_root;
                bad_old[flip % 32] ^= 1;
                prop_assert!(!verify_consistency(m, n, &bad_old, &new_root, &proof));
                let mut bad_new = new_root;
                bad_new[flip % 32] ^= 1;
                prop_assert!(!verify_consistency(m, n, &old_root, &bad_new, &proof));
                let bigger = Naive::new(n + 1);
                prop_assert!(!verify_consistency(m, n + 1, &old_root, &root(&bigger, n + 1).unwrap(), &proof));
                if m > 1 {
                    prop_assert!(!verify_consistency(m - 1, n, &root(&t, m - 1).unwrap(), &new_root, &proof));
                }
                let mut bad = proof.clone();
                let at = flip % bad.len();
                bad[at][flip % 32] ^= 1;
                prop_assert!(!verify_consistency(m, n, &old_root, &new_root, &bad));
            }
        }
    }
}
