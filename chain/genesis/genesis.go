// Package genesis reads and writes a swingchain genesis file: the chain id, the sidecar's
// genesis (vats with their JavaScript sources, bootstrap vat, params, mailbox peers) and the
// validator list, whose first entry is the proposer.
//
//	{
//	  "chain_id": "swingchain-demo",
//	  "sidecar": {
//	    "vats": [
//	      {"name": "bootstrap", "source_path": "demo_vats/bootstrap.js"},
//	      {"name": "counter", "source_path": "demo_vats/counter.js", "parameters": {"start": 0}}
//	    ],
//	    "bootstrap_vat": "bootstrap",
//	    "params": {"max_cranks_per_block": 10000},
//	    "mailbox_peers": ["alice", "bob"]
//	  },
//	  "validators": [{"id": "val0", "addr": "127.0.0.1:26700"}, {"id": "val1", "addr": "127.0.0.1:26710"}]
//	}
//
// A vat has either `source_path` (relative to the genesis file's directory, or absolute) or
// `source` (the module text inline); `parameters` is any JSON value handed to buildRootObject,
// `raw`, `enable_pipelining` and `reap_interval` are swingsetd.v1.VatConfig's. `params` is
// swingsetd.v1.Params in protobuf JSON (snake_case or lowerCamel names). Unknown fields anywhere
// are refused.
package genesis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"

	pb "swingsetd.dev/gen/swingsetdv1"
)

// File is the JSON form.
type File struct {
	ChainID    string      `json:"chain_id"`
	Sidecar    Sidecar     `json:"sidecar"`
	Validators []Validator `json:"validators"`
}

// Sidecar is the sidecar's genesis in the file.
type Sidecar struct {
	Vats         []Vat           `json:"vats"`
	BootstrapVat string          `json:"bootstrap_vat"`
	Params       json.RawMessage `json:"params,omitempty"`
	MailboxPeers []string        `json:"mailbox_peers,omitempty"`
}

// Vat is one static vat.
type Vat struct {
	Name             string          `json:"name"`
	SourcePath       string          `json:"source_path,omitempty"`
	Source           string          `json:"source,omitempty"`
	Parameters       json.RawMessage `json:"parameters,omitempty"`
	Raw              bool            `json:"raw,omitempty"`
	EnablePipelining bool            `json:"enable_pipelining,omitempty"`
	ReapInterval     uint32          `json:"reap_interval,omitempty"`
}

// Validator is one node of the chain.
type Validator struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

// Genesis is a loaded, checked genesis.
type Genesis struct {
	ChainID    string
	Sidecar    *pb.Genesis // sources read, chain_id set
	Validators []Validator // [0] is the proposer
}

// Proposer is the first validator's id.
func (g *Genesis) Proposer() string { return g.Validators[0].ID }

// Validator returns the validator with that id.
func (g *Genesis) Validator(id string) (Validator, bool) {
	for _, v := range g.Validators {
		if v.ID == id {
			return v, true
		}
	}
	return Validator{}, false
}

var (
	idRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	chainIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// Load reads and checks a genesis file; vat sources are read relative to its directory.
func Load(path string) (*Genesis, error) {
	data, err := ioutil.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	g, err := Parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return g, nil
}

// Parse checks a genesis document; relative source paths are read under dir.
func Parse(data []byte, dir string) (*Genesis, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a genesis document: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("not a genesis document: text after the JSON object")
	}
	if !chainIDRE.MatchString(f.ChainID) {
		return nil, fmt.Errorf("chain_id %q: want 1-64 of [A-Za-z0-9_.-], starting alphanumeric", f.ChainID)
	}
	g := &Genesis{ChainID: f.ChainID, Sidecar: &pb.Genesis{ChainId: f.ChainID,
		BootstrapVat: f.Sidecar.BootstrapVat, MailboxPeers: f.Sidecar.MailboxPeers}}
	if len(f.Sidecar.Vats) == 0 {
		return nil, fmt.Errorf("sidecar.vats: none")
	}
	names := map[string]bool{}
	for i, v := range f.Sidecar.Vats {
		field := fmt.Sprintf("sidecar.vats[%d]", i)
		if v.Name == "" || !utf8.ValidString(v.Name) {
			return nil, fmt.Errorf("%s.name: empty or not UTF-8", field)
		}
		if names[v.Name] {
			return nil, fmt.Errorf("%s.name: %q appears twice", field, v.Name)
		}
		names[v.Name] = true
		var src string
		switch {
		case v.SourcePath != "" && v.Source != "":
			return nil, fmt.Errorf("%s: both source and source_path", field)
		case v.SourcePath != "":
			p := v.SourcePath
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := ioutil.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("%s.source_path: %w", field, err)
			}
			src = string(b)
		case v.Source != "":
			src = v.Source
		default:
			return nil, fmt.Errorf("%s: no source or source_path", field)
		}
		if !utf8.ValidString(src) {
			return nil, fmt.Errorf("%s: source is not UTF-8", field)
		}
		params := ""
		if len(v.Parameters) > 0 {
			var buf bytes.Buffer
			if err := json.Compact(&buf, v.Parameters); err != nil {
				return nil, fmt.Errorf("%s.parameters: %w", field, err)
			}
			params = buf.String()
		}
		g.Sidecar.Vats = append(g.Sidecar.Vats, &pb.VatConfig{Name: v.Name, Source: src,
			ParametersJson: params, Raw: v.Raw, EnablePipelining: v.EnablePipelining,
			ReapInterval: v.ReapInterval})
	}
	if g.Sidecar.BootstrapVat != "" && !names[g.Sidecar.BootstrapVat] {
		return nil, fmt.Errorf("sidecar.bootstrap_vat: %q is not one of the vats", g.Sidecar.BootstrapVat)
	}
	for i, p := range f.Sidecar.MailboxPeers {
		if p == "" || !utf8.ValidString(p) {
			return nil, fmt.Errorf("sidecar.mailbox_peers[%d]: empty or not UTF-8", i)
		}
	}
	if len(f.Sidecar.Params) > 0 && string(f.Sidecar.Params) != "null" {
		params := &pb.Params{}
		if err := protojson.Unmarshal(f.Sidecar.Params, params); err != nil {
			return nil, fmt.Errorf("sidecar.params: %v", err)
		}
		g.Sidecar.Params = params
	}
	if len(f.Validators) == 0 {
		return nil, fmt.Errorf("validators: none")
	}
	ids := map[string]bool{}
	addrs := map[string]bool{}
	for i, v := range f.Validators {
		field := fmt.Sprintf("validators[%d]", i)
		if !idRE.MatchString(v.ID) {
			return nil, fmt.Errorf("%s.id %q: want 1-64 of [A-Za-z0-9_.-], starting alphanumeric", field, v.ID)
		}
		if ids[v.ID] {
			return nil, fmt.Errorf("%s.id: %q appears twice", field, v.ID)
		}
		ids[v.ID] = true
		if err := CheckLoopback(v.Addr); err != nil {
			return nil, fmt.Errorf("%s.addr: %v", field, err)
		}
		if addrs[v.Addr] {
			return nil, fmt.Errorf("%s.addr: %q appears twice", field, v.Addr)
		}
		addrs[v.Addr] = true
		g.Validators = append(g.Validators, v)
	}
	return g, nil
}

// CheckLoopback accepts HOST:PORT with a loopback IP (127.0.0.0/8, ::1) or "localhost" and a
// port 1-65535: swingchain's services have no TLS.
func CheckLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not 1-65535", addr, port)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (swingchain serves without TLS: 127.0.0.1 or ::1 only)", addr)
	}
	return nil
}

// ParseValidators reads "val0=127.0.0.1:26700,val1=127.0.0.1:26710".
func ParseValidators(s string) ([]Validator, error) {
	var out []Validator
	for _, part := range strings.Split(s, ",") {
		kv := strings.SplitN(part, "=", 2)
		if len(kv) != 2 {
			return nil, fmt.Errorf("validator %q: want ID=HOST:PORT", part)
		}
		out = append(out, Validator{ID: kv[0], Addr: kv[1]})
	}
	return out, nil
}

// Demo builds the demo chain's genesis over the vats in vatsDir (bootstrap.js, vattp.js,
// counter.js, as in deploy/demo_vats): source paths are written relative to relTo (the
// directory the genesis file will be in). The result is checked as Load would check it.
func Demo(chainID, vatsDir, relTo string, validators []Validator) ([]byte, error) {
	absVats, err := filepath.Abs(vatsDir)
	if err != nil {
		return nil, err
	}
	absRel, err := filepath.Abs(relTo)
	if err != nil {
		return nil, err
	}
	path := func(name string) (string, error) {
		p := filepath.Join(absVats, name)
		rel, err := filepath.Rel(absRel, p)
		if err != nil {
			return "", err
		}
		return filepath.ToSlash(rel), nil
	}
	f := File{ChainID: chainID, Validators: validators, Sidecar: Sidecar{
		BootstrapVat: "bootstrap", MailboxPeers: []string{"alice", "bob"},
		Params: json.RawMessage(`{"max_cranks_per_block":10000,"default_reap_interval":1000}`)}}
	for _, v := range []struct{ name, params string }{
		{"bootstrap", ""}, {"vattp", ""}, {"counter", `{"start":0}`}} {
		p, err := path(v.name + ".js")
		if err != nil {
			return nil, err
		}
		vat := Vat{Name: v.name, SourcePath: p}
		if v.params != "" {
			vat.Parameters = json.RawMessage(v.params)
		}
		f.Sidecar.Vats = append(f.Sidecar.Vats, vat)
	}
	out, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return nil, err
	}
	out = append(out, '\n')
	if _, err := Parse(out, absRel); err != nil {
		return nil, err
	}
	return out, nil
}
