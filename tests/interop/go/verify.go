// Command verify checks a running Leitstand audit log with the Go checksum
// database's own client packages, golang.org/x/mod/sumdb/note and tlog: an
// implementation of signed notes, RFC 6962 hashing and tiles that shares no
// code with Leitstand. scripts/interop-go runs it against a fresh server.
//
//	go run verify.go -url http://127.0.0.1:8080 -key 'name+hash+base64' [-old FILE]
//
// It verifies the checkpoint's signature, authenticates the hash tiles
// against the checkpoint's root, checks every entry bundle against the
// level-0 hashes, proves inclusion of sampled entries and consistency with
// an earlier checkpoint (-old), and checks that a wrong key, a changed
// checkpoint, a checkpoint signed by another key, a changed tile, a changed
// entry and a wrong old root are all rejected. One summary line on success;
// exit status 1 on any failure.
package main

import (
	"bytes"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8 // C2SP tlog-tiles: 256 hashes per tile

var (
	baseURL = flag.String("url", "", "base URL of the running Leitstand")
	vkey    = flag.String("key", "", "the log's verifier key (name+hash+base64)")
	oldFile = flag.String("old", "", "file holding an earlier checkpoint, for the consistency proof")
	samples = flag.Int("samples", 32, "random entries to prove inclusion for, beside the edges")
	client  = &http.Client{Timeout: 30 * time.Second}
)

func main() {
	flag.Parse()
	if *baseURL == "" || *vkey == "" {
		flag.Usage()
		os.Exit(2)
	}
	summary, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop-go: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("interop-go: ok:", summary)
}

func run() (string, error) {
	r := &tileReader{base: strings.TrimSuffix(*baseURL, "/"), cache: map[string][]byte{}}
	msg, err := r.get("checkpoint")
	if err != nil {
		return "", err
	}
	tree, err := openCheckpoint(msg, *vkey)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %v", err)
	}
	if tree.N == 0 {
		return "", errors.New("checkpoint: empty log")
	}
	if err := rejectsForgeries(msg, tree); err != nil {
		return "", err
	}

	// Every hash the reader returns is authenticated against tree.Hash.
	hashes := tlog.TileHashReader(tree, r)
	if root, err := tlog.TreeHash(tree.N, hashes); err != nil || root != tree.Hash {
		return "", fmt.Errorf("root from tiles: %v (%v, checkpoint says %v)", err, root, tree.Hash)
	}

	// Every entry bundle against the authenticated level-0 hashes.
	var entries [][]byte
	for n := int64(0); n<<height < tree.N; n++ {
		bundle, err := r.bundle(n, tree.N)
		if err != nil {
			return "", err
		}
		index := make([]int64, len(bundle))
		for i := range bundle {
			index[i] = tlog.StoredHashIndex(0, n<<height+int64(i))
		}
		leaves, err := hashes.ReadHashes(index)
		if err != nil {
			return "", fmt.Errorf("level-0 hashes of bundle %d: %v", n, err)
		}
		for i, e := range bundle {
			if tlog.RecordHash(e) != leaves[i] {
				return "", fmt.Errorf("entry %d: hash does not match its tile", n<<height+int64(i))
			}
		}
		entries = append(entries, bundle...)
	}

	var old tlog.Tree
	if *oldFile != "" {
		text, err := os.ReadFile(*oldFile)
		if err != nil {
			return "", err
		}
		if old, err = openCheckpoint(text, *vkey); err != nil {
			return "", fmt.Errorf("old checkpoint: %v", err)
		}
	}

	// Inclusion proofs: the edges of the tree and of its tiles, then random.
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	picks := []int64{0, tree.N - 1, 255, 256, 65535, 65536, old.N - 1, old.N}
	for i := 0; i < *samples; i++ {
		picks = append(picks, rng.Int63n(tree.N))
	}
	proved := 0
	for _, i := range picks {
		if i < 0 || i >= tree.N {
			continue
		}
		proof, err := tlog.ProveRecord(tree.N, i, hashes)
		if err != nil {
			return "", fmt.Errorf("inclusion proof for %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(entries[i])); err != nil {
			return "", fmt.Errorf("inclusion of entry %d (seed %d): %v", i, seed, err)
		}
		changed := append([]byte(nil), entries[i]...)
		changed[len(changed)-1] ^= 1
		if tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(changed)) == nil {
			return "", fmt.Errorf("a changed entry %d passes its inclusion proof", i)
		}
		proved++
	}

	consistency := "no earlier checkpoint"
	if old.N > 0 {
		if old.N > tree.N {
			return "", fmt.Errorf("old checkpoint (%d) is larger than the current one (%d)", old.N, tree.N)
		}
		proof, err := tlog.ProveTree(tree.N, old.N, hashes)
		if err != nil {
			return "", fmt.Errorf("consistency proof %d→%d: %v", old.N, tree.N, err)
		}
		if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
			return "", fmt.Errorf("consistency %d→%d: %v", old.N, tree.N, err)
		}
		wrong := old.Hash
		wrong[0] ^= 1
		if tlog.CheckTree(proof, tree.N, tree.Hash, old.N, wrong) == nil {
			return "", errors.New("a wrong old root passes the consistency proof")
		}
		// The old tree's own tiles (partial ones of that width, or the full
		// tile truncated) must still give the old root.
		if root, err := tlog.TreeHash(old.N, tlog.TileHashReader(old, r)); err != nil || root != old.Hash {
			return "", fmt.Errorf("old root from tiles: %v", err)
		}
		consistency = fmt.Sprintf("consistent with the earlier checkpoint of size %d", old.N)
	}

	// A tile changed in transit must not authenticate.
	bad := &tileReader{base: r.base, cache: map[string][]byte{}, corrupt: true}
	if _, err := tlog.TileHashReader(tree, bad).ReadHashes([]int64{0}); err == nil {
		return "", errors.New("a changed tile was accepted")
	}

	return fmt.Sprintf("checkpoint %q size %d signed by the key; %d entries in %d bundles match the tiles; "+
		"%d inclusion proofs; %s; changed or other key, changed or forged checkpoint, changed tile, entry and old root rejected; "+
		"%d fetches (%d partial tiles served as truncated full tiles)",
		strings.SplitN(*vkey, "+", 2)[0], tree.N, len(entries), (tree.N+255)>>height,
		proved, consistency, r.fetches, r.fallbacks), nil
}

// openCheckpoint verifies a signed note with key and parses its body as a
// C2SP tlog-checkpoint: origin, decimal size, base64 root hash, then
// optional extension lines. (tlog.ParseTree in x/mod 0.7 wants the go.sum
// header, so the body is parsed here.)
func openCheckpoint(msg []byte, key string) (tlog.Tree, error) {
	v, err := note.NewVerifier(key)
	if err != nil {
		return tlog.Tree{}, err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return tlog.Tree{}, errors.New("body has fewer than three lines")
	}
	if lines[0] != v.Name() {
		return tlog.Tree{}, fmt.Errorf("origin %q is not the key's name %q", lines[0], v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return tlog.Tree{}, fmt.Errorf("bad tree size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return tlog.Tree{}, fmt.Errorf("bad root hash %q", lines[2])
	}
	tree := tlog.Tree{N: size}
	copy(tree.Hash[:], root)
	return tree, nil
}

// rejectsForgeries checks that the checkpoint fails with a changed key and
// with another key of the same name, and that a changed checkpoint or one
// signed by another key fails with the right key.
func rejectsForgeries(msg []byte, tree tlog.Tree) error {
	parts := strings.SplitN(*vkey, "+", 3)
	if len(parts) != 3 {
		return fmt.Errorf("verifier key %q: want name+hash+key", *vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("verifier key: %v", err)
	}
	raw[len(raw)-1] ^= 1
	changedKey := parts[0] + "+" + parts[1] + "+" + base64.StdEncoding.EncodeToString(raw)
	if _, err := openCheckpoint(msg, changedKey); err == nil {
		return errors.New("the checkpoint verifies with a changed key")
	}
	otherSigner, otherKey, err := note.GenerateKey(crand.Reader, parts[0])
	if err != nil {
		return err
	}
	if _, err := openCheckpoint(msg, otherKey); err == nil {
		return errors.New("the checkpoint verifies with another key of the same name")
	}
	size := []byte(fmt.Sprintf("\n%d\n", tree.N))
	grown := bytes.Replace(msg, size, []byte(fmt.Sprintf("\n%d\n", tree.N+1)), 1)
	if bytes.Equal(grown, msg) {
		return errors.New("cannot find the size line to change")
	}
	if _, err := openCheckpoint(grown, *vkey); err == nil {
		return errors.New("a checkpoint with a changed size verifies")
	}
	signer, err := note.NewSigner(otherSigner)
	if err != nil {
		return err
	}
	body := msg[:bytes.Index(msg, []byte("\n\n"))+1]
	forged, err := note.Sign(&note.Note{Text: string(body)}, signer)
	if err != nil {
		return err
	}
	if _, err := openCheckpoint(forged, *vkey); err == nil {
		return errors.New("a checkpoint signed by another key verifies")
	}
	return nil
}

// tileReader is a tlog.TileReader over C2SP tlog-tiles URLs.
type tileReader struct {
	base      string
	cache     map[string][]byte
	corrupt   bool // flip a bit in every tile it returns (negative check)
	fetches   int
	fallbacks int
}

func (r *tileReader) Height() int { return height }

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := r.tile(t)
		if err != nil {
			return nil, err
		}
		if r.corrupt {
			b = append([]byte(nil), b...)
			b[0] ^= 1
		}
		data[i] = b
	}
	return data, nil
}

// tile fetches t; a partial tile the log no longer serves is cut from the
// full tile, as C2SP tlog-tiles allows.
func (r *tileReader) tile(t tlog.Tile) ([]byte, error) {
	b, err := r.get(c2spPath(t))
	if errors.Is(err, errNotFound) && t.W < 1<<height {
		full := t
		full.W = 1 << height
		if b, err = r.get(c2spPath(full)); err == nil {
			r.fallbacks++
			b = b[:min(len(b), t.W*tlog.HashSize)]
		}
	}
	if err != nil {
		return nil, err
	}
	if len(b) != t.W*tlog.HashSize {
		return nil, fmt.Errorf("%s: %d bytes, want %d", c2spPath(t), len(b), t.W*tlog.HashSize)
	}
	return b, nil
}

// bundle returns the entries of entry bundle n of a tree of the given size.
func (r *tileReader) bundle(n, size int64) ([][]byte, error) {
	t := tlog.Tile{H: height, L: -1, N: n, W: int(min64(size-n<<height, 1<<height))}
	b, err := r.get(c2spPath(t))
	if err != nil {
		return nil, err
	}
	var entries [][]byte
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
			return nil, fmt.Errorf("%s: truncated entry %d", c2spPath(t), len(entries))
		}
		l := 2 + int(binary.BigEndian.Uint16(b))
		entries = append(entries, b[2:l])
		b = b[l:]
	}
	if len(entries) != t.W {
		return nil, fmt.Errorf("%s: %d entries, want %d", c2spPath(t), len(entries), t.W)
	}
	return entries, nil
}

// c2spPath maps Go's tile path ("tile/8/L/N[.p/W]", level -1 as "data") to
// C2SP's, which has no height element and calls level -1 "entries".
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", t.H))
	if strings.HasPrefix(p, "data/") {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

var errNotFound = errors.New("not found")

func (r *tileReader) get(path string) ([]byte, error) {
	if b, ok := r.cache[path]; ok {
		return b, nil
	}
	r.fetches++
	resp, err := client.Get(r.base + "/audit/log/" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("%s: %w", path, errNotFound)
	default:
		return nil, fmt.Errorf("%s: HTTP %s", path, resp.Status)
	}
	if path != "checkpoint" {
		r.cache[path] = b
	}
	return b, nil
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}
