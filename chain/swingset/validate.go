package swingset

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	pb "swingsetd.dev/gen/swingsetdv1"
)

// The sidecar's per-request limits (server/block_lifecycle.h, LifecycleLimits; the sidecar
// refuses a whole EndBlock that breaks one with INVALID_ARGUMENT, so the keeper refuses such an
// action at DeliverTx instead) and the keeper's own bounds. All of them shape which actions a
// block hands over, so they are constants: every node must use the same.
const (
	MaxArgsJSONBytes      = 256 << 10 // call_vat.args_json
	MaxMethodBytes        = 256       // call_vat.method
	MaxVatNameBytes       = 64        // call_vat.vat
	MaxPeerNameBytes      = 128       // deliver_inbound.peer
	MaxInboundMessages    = 10000     // deliver_inbound.messages
	MaxInboundBodyBytes   = 256 << 10 // deliver_inbound.messages[].body
	MaxMailboxNumber      = 1<<53 - 1 // message numbers and acks
	MaxJSONDepth          = 512       // nesting of args_json (the sidecar's JSON parser)
	MaxActionBytes        = 1 << 20   // one encoded action (the keeper's bound)
	MaxActionsPerBlock    = 10000     // actions handed to one EndBlock (the sidecar's limit)
	MaxEndBlockActionSize = 15 << 20  // encoded actions of one EndBlock request (sidecar: 16 MiB)
)

func invalid(field, format string, args ...interface{}) error {
	return &InvalidActionError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ValidateAction checks an action's form without state, as the sidecar does before it runs a
// block (an unknown vat or peer is not a form error: it becomes that action's result error).
func ValidateAction(a *pb.Action) error {
	if a == nil {
		return invalid("action", "nil")
	}
	switch kind := a.Kind.(type) {
	case *pb.Action_CallVat:
		c := kind.CallVat
		if c == nil {
			return invalid("call_vat", "nil")
		}
		if !validVatName(c.Vat) {
			return invalid("call_vat.vat", "%q is not 1-%d of [A-Za-z0-9_-]", c.Vat, MaxVatNameBytes)
		}
		if len(c.Method) == 0 || len(c.Method) > MaxMethodBytes {
			return invalid("call_vat.method", "must be 1-%d bytes", MaxMethodBytes)
		}
		if !utf8.ValidString(c.Method) {
			return invalid("call_vat.method", "not valid UTF-8")
		}
		for i := 0; i < len(c.Method); i++ {
			if c.Method[i] < 0x20 || c.Method[i] == 0x7f {
				return invalid("call_vat.method", "control character at byte %d", i)
			}
		}
		if c.Method[0] >= '!' && c.Method[0] <= '-' {
			return invalid("call_vat.method", "must not start with one of !\"#$%%&'()*+,- (reserved by smallcaps)")
		}
		if len(c.ArgsJson) > MaxArgsJSONBytes {
			return invalid("call_vat.args_json", "%d bytes; at most %d", len(c.ArgsJson), MaxArgsJSONBytes)
		}
		if c.ArgsJson != "" {
			if err := validArgsJSON(c.ArgsJson); err != nil {
				return invalid("call_vat.args_json", "%v", err)
			}
		}
	case *pb.Action_DeliverInbound:
		d := kind.DeliverInbound
		if d == nil {
			return invalid("deliver_inbound", "nil")
		}
		if !validPeerName(d.Peer) {
			return invalid("deliver_inbound.peer", "%q is not 1-%d of [A-Za-z0-9._:@/+-]", d.Peer, MaxPeerNameBytes)
		}
		if len(d.Messages) > MaxInboundMessages {
			return invalid("deliver_inbound.messages", "%d messages; at most %d", len(d.Messages), MaxInboundMessages)
		}
		if d.Ack > MaxMailboxNumber {
			return invalid("deliver_inbound.ack", "above 2^53-1")
		}
		for i, m := range d.Messages {
			field := fmt.Sprintf("deliver_inbound.messages[%d]", i)
			if m == nil {
				return invalid(field, "nil")
			}
			if m.Num == 0 || m.Num > MaxMailboxNumber {
				return invalid(field+".num", "must be 1..2^53-1")
			}
			if len(m.Body) > MaxInboundBodyBytes {
				return invalid(field+".body", "%d bytes; at most %d", len(m.Body), MaxInboundBodyBytes)
			}
			if !utf8.ValidString(m.Body) {
				return invalid(field+".body", "not valid UTF-8")
			}
		}
	case nil:
		return invalid("kind", "no action kind set (call_vat or deliver_inbound)")
	default:
		return invalid("kind", "unknown action kind %T", kind)
	}
	if n := proto.Size(a); n > MaxActionBytes {
		return invalid("action", "%d bytes encoded; at most %d", n, MaxActionBytes)
	}
	return nil
}

func validVatName(s string) bool {
	if len(s) == 0 || len(s) > MaxVatNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validPeerName(s string) bool {
	if len(s) == 0 || len(s) > MaxPeerNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '@' || c == '/' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// validArgsJSON: a JSON array (RFC 8259; strings valid UTF-8, as proto strings must be), nested
// at most MaxJSONDepth deep, with nothing after it.
func validArgsJSON(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	if !json.Valid([]byte(s)) {
		var v interface{}
		err := json.Unmarshal([]byte(s), &v)
		return fmt.Errorf("not JSON: %v", err)
	}
	depth, maxDepth, inString, escaped := 0, 0, false, false
	first := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > maxDepth {
				maxDepth = depth
			}
		case ']', '}':
			depth--
		}
		if first == 0 {
			first = c
		}
	}
	if first != '[' {
		return fmt.Errorf("must be a JSON array of arguments")
	}
	if maxDepth > MaxJSONDepth {
		return fmt.Errorf("nested %d deep; at most %d", maxDepth, MaxJSONDepth)
	}
	return nil
}
