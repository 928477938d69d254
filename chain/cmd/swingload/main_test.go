package main

import (
	"encoding/json"
	"math/rand"
	"testing"
	"time"
)

// The demo vats' methods (deploy/demo_vats) and how many arguments each takes at most.
var demoMethods = map[string]map[string]int{
	"counter":   {"increment": 1, "get": 0, "echo": 8, "store": 2, "load": 1, "chain": 1, "makeThing": 1, "fail": 1},
	"bootstrap": {"ping": 0, "relay": 3, "send": 2},
}

func TestRandomCallsAreDemoCalls(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	seen := map[string]bool{}
	for i := 0; i < 5000; i++ {
		c := randomCall(r)
		methods, ok := demoMethods[c.GetVat()]
		if !ok {
			t.Fatalf("call to vat %q, not a demo vat", c.GetVat())
		}
		max, ok := methods[c.GetMethod()]
		if !ok {
			t.Fatalf("%s.%s is not a method of the demo vat", c.GetVat(), c.GetMethod())
		}
		var args []interface{}
		if c.GetArgsJson() != "" {
			if err := json.Unmarshal([]byte(c.GetArgsJson()), &args); err != nil {
				t.Fatalf("%s.%s args %q: not a JSON array: %v", c.GetVat(), c.GetMethod(), c.GetArgsJson(), err)
			}
		}
		if len(args) > max {
			t.Fatalf("%s.%s with %d args", c.GetVat(), c.GetMethod(), len(args))
		}
		seen[c.GetVat()+"."+c.GetMethod()] = true
	}
	if len(seen) < 10 {
		t.Errorf("the mix used only %d methods: %v", len(seen), seen)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)*time.Millisecond)
	}
	if p := percentile(d, 0.5); p != 50*time.Millisecond && p != 51*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(d, 0.99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile(nil, 0.5); p != 0 {
		t.Errorf("p50 of nothing = %v", p)
	}
	if d[0] != 100*time.Millisecond {
		t.Error("percentile sorted its input in place")
	}
}

func TestParseNodes(t *testing.T) {
	if _, err := parseNodes(""); err == nil {
		t.Error("empty --nodes accepted")
	}
	if _, err := parseNodes("127.0.0.1:1,,127.0.0.1:2"); err == nil {
		t.Error("an empty address accepted")
	}
	n, err := parseNodes("127.0.0.1:1, 127.0.0.1:2")
	if err != nil || len(n) != 2 || n[1] != "127.0.0.1:2" {
		t.Errorf("parseNodes = %v, %v", n, err)
	}
}
