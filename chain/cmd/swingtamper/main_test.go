package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syndtr/goleveldb/leveldb"
)

func makeStore(t *testing.T, kv map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	db, err := leveldb.OpenFile(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range kv {
		if err := db.Put([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func get(t *testing.T, dir, key string) string {
	t.Helper()
	db, err := leveldb.OpenFile(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := db.Get([]byte(key), nil)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return string(v)
}

func TestAddAndSet(t *testing.T) {
	dir := makeStore(t, map[string]string{"kp.nextID": "46", "other": "x"})
	if err := run(dir, []string{"add", "kp.nextID", "1000"}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, dir, "kp.nextID"); got != "1046" {
		t.Fatalf("kp.nextID = %q, want 1046", got)
	}
	if err := run(dir, []string{"set", "other", "y"}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, dir, "other"); got != "y" {
		t.Fatalf("other = %q, want y", got)
	}
	if got := get(t, dir, "kp.nextID"); got != "1046" {
		t.Fatalf("kp.nextID changed by another key's set: %q", got)
	}
}

func TestRefusals(t *testing.T) {
	dir := makeStore(t, map[string]string{"names": `["a"]`, "n": "7"})
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"add", "missing", "1"}, "not in"},
		{[]string{"set", "missing", "1"}, "not in"},
		{[]string{"add", "names", "1"}, "not a decimal integer"},
		{[]string{"add", "n", "x"}, "not an integer"},
	}
	for _, c := range cases {
		err := run(dir, c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want one containing %q", c.args, err, c.want)
		}
	}
	// Nothing changed by the refused calls, and no key was created.
	if got := get(t, dir, "n"); got != "7" {
		t.Fatalf("n = %q after refusals", got)
	}
	db, err := leveldb.OpenFile(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.Has([]byte("missing"), nil); ok {
		t.Error("a refused set created the key")
	}
	db.Close()
	// A directory without a store is refused, not created.
	empty := filepath.Join(t.TempDir(), "none")
	if err := run(empty, []string{"get", "k"}); err == nil {
		t.Error("opened a store that does not exist")
	}
	if _, err := os.Stat(filepath.Join(empty, "CURRENT")); !os.IsNotExist(err) {
		t.Errorf("a refused open left a store behind (stat CURRENT: %v)", err)
	}
}
