//! C2SP tlog-tiles (`c2sp.org/tlog-tiles`): the log's Merkle tree stored and
//! served as immutable tiles of 256 hashes, and its entries as bundles of
//! 256. Static paths make the log cacheable and verifiable by any client.
//!
//! A tile at level `L`, index `N` holds the hashes at tree height `8·L` for
//! positions `256·N … 256·N+255`; level 0 holds leaf hashes. A tile that is
//! not yet full is served as a partial tile of width `W` at `….p/W`. Index
//! `N` is written in groups of three digits, all but the last prefixed with
//! `x`: 1234067 → `x001/x234/067`.

use crate::Hash;
use crate::merkle::root;

/// Hashes (or entries) per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree height covered by one tile level.
pub const TILE_HEIGHT: u32 = 8;

/// A tile coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Level (0 = leaf hashes); `None` for an entry bundle.
    pub level: Option<u8>,
    /// Index within the level.
    pub index: u64,
    /// Width: 256 for a full tile, 1–255 for a partial one.
    pub width: u16,
}

/// Why a tile path is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tile path {path:?}: {reason}")]
pub struct TilePathError {
    /// The path.
    pub path: String,
    /// What is wrong.
    pub reason: &'static str,
}

fn encode_index(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        parts.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

impl Tile {
    /// The path below the log prefix: `tile/<L>/<N>[.p/<W>]` or
    /// `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let level = self.level.map_or("entries".to_string(), |l| l.to_string());
        let partial = if u64::from(self.width) < TILE_WIDTH { format!(".p/{}", self.width) } else { String::new() };
        format!("tile/{level}/{}{partial}", encode_index(self.index))
    }

    /// Parses a path made by [`Tile::path`]; anything else is refused
    /// (non-canonical digits, widths out of range, extra segments).
    pub fn parse(path: &str) -> Result<Tile, TilePathError> {
        let fail = |reason| TilePathError { path: path.to_string(), reason };
        let rest = path.strip_prefix("tile/").ok_or(fail("must start with tile/"))?;
        let (level_text, rest) = rest.split_once('/').ok_or(fail("missing level"))?;
        let level = match level_text {
            "entries" => None,
            l if l.len() <= 2
                && !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_digit())
                && (l == "0" || !l.starts_with('0')) =>
            {
                Some(l.parse::<u8>().map_err(|_| fail("level out of range"))?)
            }
            _ => return Err(fail("the level must be a number 0–63 or \"entries\"")),
        };
        if level.is_some_and(|l| l > 63) {
            return Err(fail("level out of range"));
        }
        let (index_text, width) = match rest.split_once(".p/") {
            Some((index, w)) => {
                let width = w
                    .parse::<u16>()
                    .ok()
                    .filter(|n| (1..256).contains(n) && n.to_string() == w)
                    .ok_or(fail("a partial width must be 1–255 without leading zeros"))?;
                (index, width)
            }
            None => (rest, 256),
        };
        let groups: Vec<&str> = index_text.split('/').collect();
        let mut index: u64 = 0;
        for (i, group) in groups.iter().enumerate() {
            let last = i + 1 == groups.len();
            let digits = if last { Some(*group) } else { group.strip_prefix('x') };
            let digits = digits.filter(|d| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit()));
            let digits = digits.ok_or(fail("the index is groups of three digits, all but the last prefixed with x"))?;
            let value: u64 = digits.parse().map_err(|_| fail("bad digits"))?;
            index = index.checked_mul(1000).and_then(|n| n.checked_add(value)).ok_or(fail("index out of range"))?;
        }
        let tile = Tile { level, index, width };
        if tile.path() != path {
            return Err(fail("not in canonical form"));
        }
        Ok(tile)
    }
}

/// The hashes of a hash tile, computed from all leaf hashes of the tree.
/// `None` if the tree does not (yet) contain that many hashes.
pub fn tile_hashes(tile: &Tile, leaves: &[Hash]) -> Option<Vec<Hash>> {
    let level = u32::from(tile.level?);
    let span = 1usize.checked_shl(level * TILE_HEIGHT)?;
    let first = usize::try_from(tile.index).ok()?.checked_mul(TILE_WIDTH as usize)?;
    (0..usize::from(tile.width))
        .map(|i| {
            let start = (first + i).checked_mul(span)?;
            let end = start.checked_add(span)?;
            (end <= leaves.len()).then(|| root(&leaves[start..end]))
        })
        .collect()
}

/// Entries as a bundle: each prefixed with its length (big-endian u16).
pub fn encode_bundle(entries: &[&[u8]]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for entry in entries {
        let len = u16::try_from(entry.len()).ok()?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Some(out)
}

/// The entries of a bundle; `None` if it is truncated.
pub fn decode_bundle(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_at_checked(2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let (entry, rest) = rest.split_at_checked(len)?;
        entries.push(entry);
        bytes = rest;
    }
    Some(entries)
}

/// The partial tile `tile` (width < 256) cut from the bytes of its full
/// tile: a partial tile is a prefix of the full one, so a log may delete
/// partials once the full tile exists and still answer for them. Bytes that
/// are not a well-formed full tile come back unchanged, so a reader sees the
/// damage instead of a silently shortened copy.
pub fn cut_partial(tile: &Tile, full: &[u8]) -> Vec<u8> {
    let width = usize::from(tile.width);
    match tile.level {
        Some(_) => full.get(..32 * width).unwrap_or(full).to_vec(),
        None => match decode_bundle(full) {
            Some(entries) if entries.len() >= width => encode_bundle(&entries[..width]).unwrap_or_default(),
            _ => full.to_vec(),
        },
    }
}

/// Subtree hashes of a tree of `size` leaves read from its hash tiles, for
/// building proofs ([`crate::merkle::prove_inclusion`],
/// [`crate::merkle::prove_consistency`]) without the leaves. A hash at a
/// height between two tile levels is computed from the ≤ 128 hashes below
/// it in one tile, as Go's `tlog.TileHashReader` does. Tiles read once are
/// kept for the reader's lifetime.
pub struct TileHashes<F> {
    size: u64,
    read: F,
    tiles: Vec<(Tile, Vec<u8>)>,
}

/// Why a subtree hash could not be read from tiles.
#[derive(Debug, thiserror::Error)]
pub enum TileReadError<E> {
    /// The tile is missing or has the wrong length.
    #[error("tile {path}: {reason}")]
    Tile {
        /// The tile path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Reading failed.
    #[error(transparent)]
    Read(E),
}

impl<E, F: FnMut(&Tile) -> Result<Option<Vec<u8>>, E>> TileHashes<F> {
    /// A reader for the tree of `size` leaves; `read` fetches a tile by
    /// coordinate (full or partial, as the tree size implies).
    pub fn new(size: u64, read: F) -> Self {
        Self { size, read, tiles: Vec::new() }
    }

    /// MTH of leaves `lo..hi`: a complete aligned subtree, or a range that
    /// ends at the tree size (the right edge), as proofs need.
    pub fn range(&mut self, lo: u64, hi: u64) -> Result<Hash, TileReadError<E>> {
        // Split into aligned power-of-two blocks, largest first, and fold
        // from the right: that is the RFC 6962 shape of such a range.
        let mut blocks = Vec::new();
        let mut at = lo;
        while at < hi {
            let mut height = if at == 0 { 63 } else { at.trailing_zeros() };
            while height > 0 && at + (1u64 << height) > hi {
                height -= 1;
            }
            blocks.push(self.subtree(height, at >> height)?);
            at += 1 << height;
        }
        let mut hash = blocks.pop().ok_or(TileReadError::Tile { path: String::new(), reason: "empty range" })?;
        while let Some(left) = blocks.pop() {
            hash = crate::merkle::node_hash(&left, &hash);
        }
        Ok(hash)
    }

    /// The hash of the complete subtree of height `height` at `index`.
    fn subtree(&mut self, height: u32, index: u64) -> Result<Hash, TileReadError<E>> {
        let level = height / TILE_HEIGHT;
        let below = height % TILE_HEIGHT;
        let first = index << below;
        let count = 1usize << below;
        let stored = self.size >> (level * TILE_HEIGHT);
        let tile_index = first / TILE_WIDTH;
        let width = (stored - tile_index * TILE_WIDTH).min(TILE_WIDTH) as u16;
        let tile = Tile { level: Some(level as u8), index: tile_index, width };
        let bytes = self.tile(tile)?;
        let offset = (first % TILE_WIDTH) as usize * 32;
        let hashes: Vec<Hash> = bytes
            .get(offset..offset + 32 * count)
            .ok_or(TileReadError::Tile { path: tile.path(), reason: "shorter than its width" })?
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or([0; 32]))
            .collect();
        Ok(root(&hashes))
    }

    fn tile(&mut self, tile: Tile) -> Result<&[u8], TileReadError<E>> {
        if let Some(i) = self.tiles.iter().position(|(t, _)| *t == tile) {
            return Ok(&self.tiles[i].1);
        }
        let bytes = (self.read)(&tile)
            .map_err(TileReadError::Read)?
            .ok_or(TileReadError::Tile { path: tile.path(), reason: "missing" })?;
        if bytes.len() != 32 * usize::from(tile.width) {
            return Err(TileReadError::Tile { path: tile.path(), reason: "wrong length for its width" });
        }
        self.tiles.push((tile, bytes));
        Ok(&self.tiles[self.tiles.len() - 1].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    #[test]
    fn proofs_from_tiles_equal_proofs_from_leaves() {
        use crate::merkle::{consistency_proof, inclusion_proof, prove_consistency, prove_inclusion};
        let leaves: Vec<Hash> = (0..70_000u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for size in [1u64, 2, 255, 256, 257, 600, 65_535, 65_536, 65_537, 70_000] {
            let tree = &leaves[..size as usize];
            let mut reads = 0;
            let mut hashes = TileHashes::new(size, |t: &Tile| {
                reads += 1;
                Ok::<_, std::io::Error>(tile_hashes(t, tree).map(|h| h.concat()))
            });
            let mut range = |lo, hi| hashes.range(lo, hi);
            for index in [0, size / 3, size - 1] {
                let got = prove_inclusion(index, size, &mut range).unwrap();
                assert_eq!(Some(got), inclusion_proof(index as usize, tree), "inclusion {index} in {size}");
            }
            for old in [1, size / 2, size - 1, size] {
                let got = prove_consistency(old, size, &mut range).unwrap();
                assert_eq!(Some(got), consistency_proof(old as usize, tree), "consistency {old} -> {size}");
            }
            assert_eq!(range(0, size).unwrap(), root(tree));
            drop(hashes);
            assert!(reads <= 40, "{reads} tile reads for size {size}");
        }
    }

    #[test]
    fn a_short_or_missing_tile_is_named() {
        let mut hashes =
            TileHashes::new(300, |t: &Tile| Ok::<_, std::io::Error>((t.index == 0).then(|| vec![0; 31 * 256])));
        let err = hashes.range(0, 128).unwrap_err().to_string();
        assert_eq!(err, "tile tile/0/000: wrong length for its width");
        let err = hashes.range(256, 300).unwrap_err().to_string();
        assert_eq!(err, "tile tile/0/001.p/44: missing");
    }

    #[test]
    fn partials_are_prefixes_of_full_tiles() {
        let full: Vec<u8> = (0..=255u8).flat_map(|i| [i; 32]).collect();
        let tile = Tile { level: Some(0), index: 0, width: 3 };
        assert_eq!(cut_partial(&tile, &full), full[..96].to_vec());
        assert_eq!(cut_partial(&tile, &full[..40]), full[..40].to_vec(), "a short tile stays as it is");
        let entries: Vec<Vec<u8>> = (0..=255u8).map(|i| vec![i; 5]).collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let bundle = encode_bundle(&refs).unwrap();
        let tile = Tile { level: None, index: 0, width: 2 };
        assert_eq!(cut_partial(&tile, &bundle), encode_bundle(&refs[..2]).unwrap());
        assert_eq!(cut_partial(&tile, &bundle[..9]), bundle[..9].to_vec(), "a truncated bundle stays as it is");
    }

    #[test]
    fn paths_follow_the_spec() {
        let t = |level, index, width| Tile { level, index, width };
        assert_eq!(t(Some(0), 1_234_067, 256).path(), "tile/0/x001/x234/067");
        assert_eq!(t(Some(1), 1_234_067, 8).path(), "tile/1/x001/x234/067.p/8");
        assert_eq!(t(None, 1_234_067, 8).path(), "tile/entries/x001/x234/067.p/8");
        assert_eq!(t(Some(2), 5, 256).path(), "tile/2/005");
        for tile in [t(Some(0), 0, 256), t(Some(3), 999_999, 1), t(None, 1000, 255), t(Some(63), u64::MAX / 7, 42)] {
            assert_eq!(Tile::parse(&tile.path()).unwrap(), tile);
        }
    }

    #[test]
    fn non_canonical_paths_are_refused() {
        for bad in [
            "tile/0/1234",
            "tile/0/001/234",
            "tile/00/001",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/08",
            "tile/64/001",
            "tile/0/001/",
            "tiles/0/001",
            "tile/0/x000/001",
        ] {
            assert!(Tile::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiles_hold_subtree_roots() {
        let leaves: Vec<Hash> = (0..600u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let level0 = tile_hashes(&Tile { level: Some(0), index: 1, width: 256 }, &leaves).unwrap();
        assert_eq!(level0, leaves[256..512]);
        let level1 = tile_hashes(&Tile { level: Some(1), index: 0, width: 2 }, &leaves).unwrap();
        assert_eq!(level1, [root(&leaves[..256]), root(&leaves[256..512])]);
        assert!(tile_hashes(&Tile { level: Some(1), index: 0, width: 3 }, &leaves).is_none(), "only 2 full subtrees");
    }

    #[test]
    fn bundles_round_trip_and_truncation_is_detected() {
        let entries: [&[u8]; 3] = [b"a", b"", b"event"];
        let bundle = encode_bundle(&entries).unwrap();
        assert_eq!(decode_bundle(&bundle).unwrap(), entries);
        assert!(decode_bundle(&bundle[..bundle.len() - 1]).is_none());
    }
}
