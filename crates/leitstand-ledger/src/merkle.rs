//! RFC 6962 (and RFC 9162 §2.1) Merkle tree hashing: leaf and interior
//! hashes with domain separation, tree heads of any size, inclusion and
//! consistency proofs, and their verification exactly as the RFC describes,
//! so any conforming client agrees with us.

use sha2::{Digest, Sha256};

use crate::Hash;

/// The hash of a leaf: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The tree head MTH over the leaf hashes (SHA-256 of nothing when empty).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split_u64(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 6962 PATH).
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    prove_inclusion(index as u64, leaves.len() as u64, &mut slice_ranges(leaves)).ok()
}

/// The consistency proof from the tree of the first `old` leaves to the tree
/// of all `leaves` (RFC 6962 PROOF).
pub fn consistency_proof(old: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    prove_consistency(old as u64, leaves.len() as u64, &mut slice_ranges(leaves)).ok()
}

fn slice_ranges(leaves: &[Hash]) -> impl FnMut(u64, u64) -> Result<Hash, ProofError> {
    |lo, hi| Ok(root(&leaves[lo as usize..hi as usize]))
}

/// Why a proof could not be built: the request is impossible, or reading a
/// subtree hash failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProveError<E> {
    /// Index or sizes out of range.
    #[error("invalid proof request: {0}")]
    Invalid(&'static str),
    /// The hash source failed.
    #[error(transparent)]
    Read(E),
}

impl<E> From<E> for ProveError<E> {
    fn from(e: E) -> Self {
        ProveError::Read(e)
    }
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves, with
/// subtree hashes from `range(lo, hi)` = MTH(leaves lo..hi). Only ranges the
/// RFC's algorithm names are asked for: complete aligned subtrees, and
/// ranges that end at `size` — which a tile store can answer without
/// reading every leaf.
pub fn prove_inclusion<E>(
    index: u64,
    size: u64,
    range: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, ProveError<E>> {
    if index >= size {
        return Err(ProveError::Invalid("index must be below the tree size"));
    }
    let (mut lo, mut hi, mut m) = (0, size, index);
    let mut proof = Vec::new();
    while hi - lo > 1 {
        let k = split_u64(hi - lo);
        if m < k {
            proof.push(range(lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range(lo, lo + k)?);
            lo += k;
            m -= k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof from the tree of `old` leaves to the tree of `size`
/// leaves (RFC 6962 PROOF), with subtree hashes from `range` as in
/// [`prove_inclusion`].
pub fn prove_consistency<E>(
    old: u64,
    size: u64,
    range: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, ProveError<E>> {
    if old > size {
        return Err(ProveError::Invalid("the old tree cannot be larger than the new one"));
    }
    if old == 0 || old == size {
        return Ok(Vec::new());
    }
    let (mut lo, mut hi, mut m, mut complete) = (0, size, old, true);
    let mut proof = Vec::new();
    while m != hi - lo {
        let k = split_u64(hi - lo);
        if m <= k {
            proof.push(range(lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range(lo, lo + k)?);
            lo += k;
            m -= k;
            complete = false;
        }
    }
    if !complete {
        proof.push(range(lo, hi)?);
    }
    proof.reverse();
    Ok(proof)
}

/// The largest power of two strictly smaller than `n` (n ≥ 2).
fn split_u64(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index or sizes are impossible.
    #[error("invalid proof request: {0}")]
    Invalid(&'static str),
    /// The proof has the wrong number of hashes.
    #[error("proof has {got} hashes, expected {expected}")]
    Length {
        /// Hashes given.
        got: usize,
        /// Hashes needed.
        expected: usize,
    },
    /// The recomputed root differs.
    #[error("recomputed root does not match")]
    Mismatch,
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::Invalid("index must be below the tree size"));
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::Length { got: proof.len(), expected: proof.len() - 1 });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Length { got: proof.len(), expected: proof.len() + 1 });
    }
    if &r == root { Ok(()) } else { Err(ProofError::Mismatch) }
}

/// Verifies a consistency proof between two tree heads (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::Invalid("the old tree cannot be larger than the new one"));
    }
    if old_size == new_size {
        return if proof.is_empty() && old_root == new_root { Ok(()) } else { Err(ProofError::Mismatch) };
    }
    if old_size == 0 {
        return if proof.is_empty() { Ok(()) } else { Err(ProofError::Length { got: proof.len(), expected: 0 }) };
    }
    if proof.is_empty() {
        return Err(ProofError::Length { got: 0, expected: 1 });
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old_size.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if s_n == 0 {
            return Err(ProofError::Mismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && &fr == old_root && &sr == new_root { Ok(()) } else { Err(ProofError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The RFC 6962 reference vectors used by the certificate-transparency
    /// implementations.
    fn reference_leaves() -> Vec<Hash> {
        let data: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        data.iter().map(|d| leaf_hash(d)).collect()
    }

    #[test]
    fn tree_heads_match_the_reference_vectors() {
        let leaves = reference_leaves();
        let expected = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        for (n, want) in expected.iter().enumerate() {
            assert_eq!(hex(&root(&leaves[..=n])), *want, "size {}", n + 1);
        }
        assert_eq!(hex(&root(&[])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn every_inclusion_and_consistency_proof_verifies_and_tampering_fails() {
        let leaves: Vec<Hash> = (0..40u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for n in 1..=leaves.len() {
            let tree = &leaves[..n];
            let head = root(tree);
            for m in 0..n {
                let proof = inclusion_proof(m, tree).unwrap();
                verify_inclusion(m as u64, n as u64, &tree[m], &proof, &head).unwrap();
                assert!(verify_inclusion(m as u64, n as u64, &leaf_hash(b"forged"), &proof, &head).is_err());
                if let Some(first) = proof.first() {
                    let mut bad = proof.clone();
                    bad[0] = node_hash(first, first);
                    assert!(verify_inclusion(m as u64, n as u64, &tree[m], &bad, &head).is_err());
                }
            }
            for old in 0..=n {
                let proof = consistency_proof(old, tree).unwrap();
                let old_head = root(&tree[..old]);
                verify_consistency(old as u64, n as u64, &old_head, &head, &proof).unwrap();
                if old > 0 && old < n {
                    let rewritten = root(&[&tree[..old - 1], &[leaf_hash(b"rewritten")]].concat());
                    assert!(verify_consistency(old as u64, n as u64, &rewritten, &head, &proof).is_err(), "{old}->{n}");
                }
            }
        }
    }
}
