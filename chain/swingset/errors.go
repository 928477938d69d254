package swingset

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// HaltError is what the node must stop on: the sidecar refused the lifecycle at Height (a call
// out of order or at a height it cannot take, FAILED_PRECONDITION; ABORTED; a broken kernel or
// store, INTERNAL or DATA_LOSS; a malformed request, INVALID_ARGUMENT), or the keeper found the
// sidecar's state inconsistent with its own (Code is then codes.Internal, or codes.DataLoss for
// a re-driven block whose answer differs). Retrying cannot help; a node that goes on would
// fork or skip a height.
type HaltError struct {
	Height int64
	Code   codes.Code
	Msg    string
}

func (e *HaltError) Error() string {
	return fmt.Sprintf("swingset: halt at height %d: %s: %s", e.Height, e.Code, e.Msg)
}

// IsHalt reports whether err is (or wraps) a *HaltError, and returns it.
func IsHalt(err error) (*HaltError, bool) {
	var h *HaltError
	if errors.As(err, &h) {
		return h, true
	}
	return nil, false
}

// InvalidActionError is DeliverTx's answer to an action that can never be valid: nothing was
// stored.
type InvalidActionError struct {
	Field string // the offending field, as in the proto ("call_vat.method")
	Msg   string
}

func (e *InvalidActionError) Error() string {
	return fmt.Sprintf("swingset: invalid action: %s: %s", e.Field, e.Msg)
}

func halt(height int64, err error, what string) *HaltError {
	st, _ := status.FromError(err)
	return &HaltError{Height: height, Code: st.Code(), Msg: what + ": " + st.Message()}
}

// transient: the sidecar is down, restarting or unreachable; retrying is right.
func transient(err error) bool {
	return status.Code(err) == codes.Unavailable
}
