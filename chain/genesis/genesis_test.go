package genesis

import (
	"encoding/json"
	"io/ioutil"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func demoVats(t *testing.T) string {
	t.Helper()
	// The package directory is reached through the GOPATH symlink: resolve it to the repo.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	here, err := filepath.EvalSymlinks(wd)
	if err != nil {
		t.Fatal(err)
	}
	d, err := filepath.Abs(filepath.Join(here, "../../deploy/demo_vats"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDemoRoundTrip(t *testing.T) {
	dir := t.TempDir()
	vals, err := ParseValidators("val0=127.0.0.1:26700,val1=127.0.0.1:26710")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Demo("swingchain-demo", demoVats(t), dir, vals)
	if err != nil {
		t.Fatal(err)
	}
	var f File
	if err := json.Unmarshal(doc, &f); err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Sidecar.Vats {
		if filepath.IsAbs(v.SourcePath) || v.SourcePath == "" {
			t.Fatalf("source path %q is not relative to the genesis file", v.SourcePath)
		}
	}
	path := filepath.Join(dir, "genesis.json")
	if err := ioutil.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if g.Proposer() != "val0" || len(g.Validators) != 2 || g.Sidecar.ChainId != "swingchain-demo" {
		t.Fatalf("loaded %+v", g)
	}
	if len(g.Sidecar.Vats) != 3 || !strings.Contains(g.Sidecar.Vats[2].Source, "buildRootObject") ||
		g.Sidecar.Vats[2].ParametersJson != `{"start":0}` {
		t.Fatalf("vats %+v", g.Sidecar.Vats)
	}
	if g.Sidecar.Params.GetMaxCranksPerBlock() != 10000 || g.Sidecar.BootstrapVat != "bootstrap" {
		t.Fatalf("sidecar %+v", g.Sidecar)
	}
	// Moving the file elsewhere breaks relative paths with a clear error.
	other := filepath.Join(t.TempDir(), "a", "genesis.json")
	os.MkdirAll(filepath.Dir(other), 0o755)
	ioutil.WriteFile(other, doc, 0o644)
	if _, err := Load(other); err == nil || !strings.Contains(err.Error(), "sidecar.vats[0].source_path") {
		t.Fatalf("moved genesis: %v", err)
	}
}

func TestBadGenesis(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "v.js"), []byte("export const x = 1;"), 0o644)
	good := `{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source_path":"v.js"}],"bootstrap_vat":"a"},
	  "validators":[{"id":"val0","addr":"127.0.0.1:1"}]}`
	if _, err := Parse([]byte(good), dir); err != nil {
		t.Fatalf("good genesis refused: %v", err)
	}
	cases := []struct{ doc, want string }{
		{`{"chain_id":"c1"`, "not a genesis document"},
		{`{"chain_id":"c1","extra":1}`, "unknown field"},
		{`{"chain_id":"c 1"}`, "chain_id"},
		{`{"chain_id":"c1","sidecar":{"vats":[]}}`, "sidecar.vats: none"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a"}]}}`, "sidecar.vats[0]: no source"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x"},{"name":"a","source":"y"}]}}`, "sidecar.vats[1].name"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x","source_path":"v.js"}]}}`, "both"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source_path":"nope.js"}]}}`, "sidecar.vats[0].source_path"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x","parameters":{"a":}}]}}`, "not a genesis"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x"}],"bootstrap_vat":"b"}}`, "sidecar.bootstrap_vat"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x"}],"params":{"bogus":1}}}`, "sidecar.params"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x"}]}}`, "validators: none"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x"}]},"validators":[{"id":"v 0","addr":"127.0.0.1:1"}]}`, "validators[0].id"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x"}]},"validators":[{"id":"v0","addr":"10.0.0.1:1"}]}`, "not a loopback"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x"}]},"validators":[{"id":"v0","addr":"127.0.0.1"}]}`, "HOST:PORT"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x"}]},"validators":[{"id":"v0","addr":"127.0.0.1:1"},{"id":"v0","addr":"127.0.0.1:2"}]}`, "validators[1].id"},
		{`{"chain_id":"c1","sidecar":{"vats":[{"name":"a","source":"x"}]},"validators":[{"id":"v0","addr":"127.0.0.1:1"},{"id":"v1","addr":"127.0.0.1:1"}]}`, "validators[1].addr"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc), dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.doc, err, c.want)
		}
	}
	if _, err := ParseValidators("val0=127.0.0.1:1,val1"); err == nil {
		t.Error("ParseValidators accepted an entry without =")
	}
}
