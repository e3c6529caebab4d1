package state_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/state"
)

type order struct {
	ID        string
	PaymentID string `json:"payment_id,omitempty"`
	Items     []string
}

func TestJSONRoundTrip(t *testing.T) {
	is := is.New(t)
	var c state.Codec[order] = state.JSON[order]{}
	in := order{ID: "o1", PaymentID: "p1", Items: []string{"book"}}
	data, err := c.Encode(&in)
	is.NoErr(err)
	is.Equal(string(data), `{"ID":"o1","payment_id":"p1","Items":["book"]}`)
	var out order
	is.NoErr(c.Decode(data, &out))
	is.Equal(out.ID, in.ID)
	is.Equal(out.Items, in.Items)
}

func TestJSONErrors(t *testing.T) {
	is := is.New(t)
	type bad struct{ C chan int }
	_, err := state.JSON[bad]{}.Encode(&bad{C: make(chan int)})
	is.True(err != nil)
	is.True(strings.HasPrefix(err.Error(), "state: encode")) // says what failed
	var out order
	err = state.JSON[order]{}.Decode([]byte("{"), &out)
	is.True(err != nil)
	var syntax *json.SyntaxError // the codec's own error, still reachable
	is.True(errors.As(err, &syntax))
	is.True(strings.HasPrefix(err.Error(), "state: decode")) // says what failed
}
