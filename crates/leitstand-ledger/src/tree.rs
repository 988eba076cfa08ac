//! The log's right edge, grown one leaf at a time: for every tile level the
//! hashes of the tile that is not full yet. That is all a sequencer needs to
//! keep in memory — full tiles are written once and never read back — and it
//! is enough to compute the tree head, so appending is O(1) amortised and a
//! restart only reads the partial tiles the last checkpoint names.

use crate::Hash;
use crate::merkle::{node_hash, root};
use crate::tiles::{TILE_HEIGHT, TILE_WIDTH, Tile};

/// The right edge of a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeEdge {
    size: u64,
    /// `levels[L]`: hashes of the incomplete tile at level `L` (0–255).
    levels: Vec<Vec<Hash>>,
}

/// A tile that became full while appending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullTile {
    /// Its coordinate (width 256).
    pub tile: Tile,
    /// Its 256 hashes.
    pub hashes: Vec<Hash>,
}

/// Why partial tiles do not describe a tree of the given size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tile level {level}: expected {expected} hashes for a tree of size {size}, found {found}")]
pub struct EdgeError {
    /// Tree size.
    pub size: u64,
    /// Tile level.
    pub level: usize,
    /// Hashes expected.
    pub expected: u64,
    /// Hashes found.
    pub found: usize,
}

/// The widths of the partial tiles of a tree of `size` leaves, per level,
/// for every level that has one (or is needed above it).
pub fn partial_widths(size: u64) -> Vec<u64> {
    let mut widths = Vec::new();
    let mut n = size;
    while n > 0 {
        widths.push(n % TILE_WIDTH);
        n /= TILE_WIDTH;
    }
    widths
}

impl TreeEdge {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores the edge of a tree of `size` leaves from the hashes of its
    /// partial tiles, level 0 first (see [`partial_widths`]).
    pub fn restore(size: u64, levels: Vec<Vec<Hash>>) -> Result<Self, EdgeError> {
        let widths = partial_widths(size);
        for (level, expected) in widths.iter().enumerate() {
            let found = levels.get(level).map_or(0, Vec::len);
            if found as u64 != *expected {
                return Err(EdgeError { size, level, expected: *expected, found });
            }
        }
        if let Some((level, extra)) = levels.iter().enumerate().skip(widths.len()).find(|(_, h)| !h.is_empty()) {
            return Err(EdgeError { size, level, expected: 0, found: extra.len() });
        }
        let mut levels = levels;
        levels.truncate(widths.len());
        Ok(Self { size, levels })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; tiles that became full are pushed to `full`.
    pub fn push(&mut self, leaf: Hash, full: &mut Vec<FullTile>) {
        self.size += 1;
        let mut hash = leaf;
        let mut level = 0usize;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::with_capacity(TILE_WIDTH as usize));
            }
            let tile = &mut self.levels[level];
            tile.push(hash);
            if tile.len() as u64 != TILE_WIDTH {
                return;
            }
            let hashes = std::mem::take(tile);
            hash = root(&hashes);
            let index = (self.size >> (TILE_HEIGHT * (level as u32 + 1))) - 1;
            full.push(FullTile { tile: Tile { level: Some(level as u8), index, width: 256 }, hashes });
            level += 1;
        }
    }

    /// The partial tiles (width 1–255) with their hashes.
    pub fn partial_tiles(&self) -> Vec<(Tile, &[Hash])> {
        self.levels
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty())
            .map(|(level, hashes)| {
                let index = self.size >> (TILE_HEIGHT * (level as u32 + 1));
                (Tile { level: Some(level as u8), index, width: hashes.len() as u16 }, hashes.as_slice())
            })
            .collect()
    }

    /// The tree head (RFC 6962 MTH).
    pub fn root(&self) -> Hash {
        // Perfect subtrees from left (highest level) to right, then folded
        // from the right: exactly RFC 6962's split at the largest power of two.
        let mut subtrees: Vec<Hash> = Vec::new();
        for hashes in self.levels.iter().rev() {
            let mut rest = hashes.as_slice();
            while !rest.is_empty() {
                let take = 1usize << (usize::BITS - 1 - rest.len().leading_zeros());
                subtrees.push(root(&rest[..take]));
                rest = &rest[take..];
            }
        }
        match subtrees.pop() {
            None => root(&[]),
            Some(last) => subtrees.iter().rev().fold(last, |acc, left| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::merkle::leaf_hash;
    use crate::tiles::tile_hashes;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn root_matches_rfc6962_for_every_size_up_to_three_levels() {
        let all = leaves(70_000);
        let mut edge = TreeEdge::new();
        let mut full = Vec::new();
        assert_eq!(edge.root(), root(&[]));
        for (i, leaf) in all.iter().enumerate() {
            edge.push(*leaf, &mut full);
            let n = i + 1;
            if n < 600 || n % 997 == 0 || n == 65_536 || n == 65_537 {
                assert_eq!(edge.root(), root(&all[..n]), "size {n}");
            }
        }
        // Every full tile is exactly what tlog-tiles says it holds.
        assert_eq!(full.len() as u64, 70_000 / 256 + 70_000 / 65_536);
        for t in &full {
            assert_eq!(Some(t.hashes.clone()), tile_hashes(&t.tile, &all), "{}", t.tile.path());
        }
        for (tile, hashes) in edge.partial_tiles() {
            assert_eq!(Some(hashes.to_vec()), tile_hashes(&tile, &all), "{}", tile.path());
        }
    }

    #[test]
    fn restored_edge_continues_identically() {
        let all = leaves(66_000);
        let mut edge = TreeEdge::new();
        let mut sink = Vec::new();
        for leaf in &all[..65_800] {
            edge.push(*leaf, &mut sink);
        }
        let levels: Vec<Vec<Hash>> = {
            let mut v = vec![Vec::new(); partial_widths(edge.size()).len()];
            for (tile, hashes) in edge.partial_tiles() {
                v[usize::from(tile.level.unwrap())] = hashes.to_vec();
            }
            v
        };
        let mut restored = TreeEdge::restore(65_800, levels).unwrap();
        assert_eq!(restored, edge);
        for leaf in &all[65_800..] {
            restored.push(*leaf, &mut sink);
        }
        assert_eq!(restored.root(), root(&all));
    }

    #[test]
    fn restore_refuses_tiles_of_the_wrong_width() {
        let err = TreeEdge::restore(300, vec![vec![[0; 32]; 43], vec![[0; 32]; 1]]).unwrap_err();
        assert_eq!((err.level, err.expected, err.found), (0, 44, 43));
        assert!(TreeEdge::restore(256, vec![vec![], vec![[0; 32]]]).is_ok());
        assert!(TreeEdge::restore(5, vec![vec![[0; 32]; 5], vec![[0; 32]]]).is_err());
    }

    #[test]
    fn widths() {
        assert_eq!(partial_widths(0), Vec::<u64>::new());
        assert_eq!(partial_widths(256), vec![0, 1]);
        assert_eq!(partial_widths(65_537), vec![1, 0, 1]);
    }
}
