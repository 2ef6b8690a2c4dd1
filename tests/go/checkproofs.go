// Checks kroniek's checkpoint signature with Go's own golang.org/x/mod/sumdb/note and its
// proofs with golang.org/x/mod/sumdb/tlog: the reference implementation of the formats
// kroniek speaks. Run by tests/integration/go_reference.rs where Debian's golang-go and
// golang-golang-x-mod-dev are installed.
//
//	go run checkproofs.go VKEY CHECKPOINT INCLUSION.json CONSISTENCY.json
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Printf("FAILED: "+format+"\n", args...)
	os.Exit(1)
}

func hash(s string) tlog.Hash {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		fail("bad hash %q", s)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h
}

func hashes(list []string) []tlog.Hash {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		out[i] = hash(s)
	}
	return out
}

func main() {
	if len(os.Args) != 5 {
		fail("usage: checkproofs VKEY CHECKPOINT INCLUSION.json CONSISTENCY.json")
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(os.Args[1]))
	if err != nil {
		fail("verifier key: %v", err)
	}
	msg, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) != 3 {
		fail("the checkpoint has %d lines", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != 32 {
		fail("root: %v", err)
	}
	var root tlog.Hash
	copy(root[:], rootBytes)

	var inc struct {
		TreeSize   int64    `json:"tree_size"`
		Index      int64    `json:"index"`
		RecordHash string   `json:"record_hash"`
		LeafHash   string   `json:"leaf_hash"`
		Root       string   `json:"root"`
		Proof      []string `json:"proof"`
	}
	data, _ := os.ReadFile(os.Args[3])
	if err := json.Unmarshal(data, &inc); err != nil {
		fail("inclusion: %v", err)
	}
	recordHash, _ := hex.DecodeString(inc.RecordHash)
	if tlog.RecordHash(recordHash) != hash(inc.LeafHash) {
		fail("the leaf hash is not tlog.RecordHash(record hash)")
	}
	if inc.TreeSize == size && hash(inc.Root) != root {
		fail("the inclusion proof's root is not the checkpoint's")
	}
	if err := tlog.CheckRecord(hashes(inc.Proof), inc.TreeSize, hash(inc.Root), inc.Index, hash(inc.LeafHash)); err != nil {
		fail("tlog.CheckRecord: %v", err)
	}

	var con struct {
		OldSize int64    `json:"old_size"`
		NewSize int64    `json:"new_size"`
		OldRoot string   `json:"old_root"`
		NewRoot string   `json:"new_root"`
		Proof   []string `json:"proof"`
	}
	data, _ = os.ReadFile(os.Args[4])
	if err := json.Unmarshal(data, &con); err != nil {
		fail("consistency: %v", err)
	}
	if err := tlog.CheckTree(hashes(con.Proof), con.NewSize, hash(con.NewRoot), con.OldSize, hash(con.OldRoot)); err != nil {
		fail("tlog.CheckTree: %v", err)
	}
	fmt.Printf("ok: %s signed size %d; inclusion of %d and consistency %d -> %d checked by Go's sumdb\n", n.Sigs[0].Name, size, inc.Index, con.OldSize, con.NewSize)
}
