package state_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sagakit/sagakit/state"
)

// Fuzz targets of the state codec and of forks. Their seeds are in
// testdata/fuzz and below; plain `go test` runs them, and
//
//	go test -run '^$' -fuzz FuzzJSONRoundTrip -fuzztime 45s ./state
//
// looks for more.

type hits struct {
	Seen string
	Hits state.Cell[int]
	skip string
}

// fuzzState has a field of every shape a fork handles: basic values,
// references, a self-encoding struct, nested and promoted structs, Cells
// and an unexported field no codec carries.
type fuzzState struct {
	hits  // unexported, its exported fields promoted
	ID    string
	N     int
	U     uint8
	F     float64
	B     bool
	Tags  map[string]string
	Items []string
	Ptr   *address
	Any   any
	Arr   [2]int
	Raw   json.RawMessage
	When  time.Time
	Home  address
	List  state.Cell[[]string]
	Total state.Cell[int]
	note  string
}

// A snapshot that decodes never makes the codec panic, and what it
// decoded encodes to a snapshot that decodes to the same state (the
// codec's round trip is stable after one pass).
func FuzzJSONRoundTrip(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `{"ID":"o1","N":3,"Tags":{"a":"b"},"Items":["x"],"List":["l"],"Total":7}`,
		`{"When":"2026-03-14T09:30:00.123456789+01:00","Ptr":{"City":"Oslo"},"Any":[1,"a",{"b":null}]}`,
		`{"Seen":"s","Hits":2,"Arr":[1,2,3],"Raw":{"k": [1, 2]},"U":255,"F":1e308}`,
		`{"U":256}`, `{"When":"yesterday"}`, `{"Total":"x"}`, `[`, `{"ID":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	c := state.JSON[fuzzState]{}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s fuzzState
		if err := c.Decode(data, &s); err != nil {
			if !strings.HasPrefix(err.Error(), "state: decode") {
				t.Fatalf("decode error does not say what failed: %v", err)
			}
			return
		}
		enc, err := c.Encode(&s)
		if err != nil {
			t.Fatalf("a decoded state does not encode: %v (snapshot %q)", err, data)
		}
		var again fuzzState
		if err := c.Decode(enc, &again); err != nil {
			t.Fatalf("an encoded state does not decode: %v (snapshot %q, encoded %q)", err, data, enc)
		}
		enc2, err := c.Encode(&again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip not stable:\n%s\n%s", enc, enc2)
		}
		// Other shapes of state decode the same bytes without panicking.
		decodeAs[map[string]any](data)
		decodeAs[[]int](data)
		decodeAs[string](data)
		decodeAs[*fuzzState](data)
		decodeAs[state.Cell[map[string]int]](data)
	})
}

func decodeAs[S any](data []byte) {
	var s S
	_ = state.JSON[S]{}.Decode(data, &s)
}

// A fork of any snapshot, changed by any steps, merges into any run
// state without panicking, and Merge does what its doc says: a field the
// step changed gets the step's value, a field it did not change keeps the
// run's, a Cell gets the step's changes replayed, and the unexported
// fields of the run are left alone.
func FuzzForkMerge(f *testing.F) {
	f.Add([]byte(`{"ID":"b1","Total":2,"List":["a"]}`), []byte(`{"ID":"b1","Total":5,"N":4}`), []byte("\x00x\x05y\x06\x03\x07\x02"))
	f.Add([]byte(`{}`), []byte(`{}`), []byte("\x01\x02\x02k\x03i\x04c\x08h\x09s\x0a\x0b\x10\x0c\x07\x0d\x01\x0e\x0f\x02"))
	f.Add([]byte(`{"Tags":{"a":"1"},"Ptr":{"City":"Oslo"},"Any":{"x":1}}`), []byte(`{"Tags":{"b":"2"}}`), []byte("\x02a\x04\x00\x0c\x00"))
	f.Add([]byte(`not json`), []byte(`{}`), []byte{})
	f.Add([]byte(`{"Seen":"x","Hits":1}`), []byte(`{"Hits":"bad"}`), []byte("\x09x\x0a\x0a"))
	c := state.JSON[fuzzState]{}
	f.Fuzz(func(t *testing.T, snap, dst, ops []byte) {
		fk, err := state.NewFork(c, snap)
		if err != nil {
			var s fuzzState
			if c.Decode(snap, &s) == nil {
				t.Fatalf("NewFork fails on a snapshot the codec decodes: %v", err)
			}
			return
		}
		var base, run, before fuzzState
		if err := c.Decode(snap, &base); err != nil {
			t.Fatal(err)
		}
		_ = c.Decode(dst, &run) // a partial decode is a state too
		_ = c.Decode(dst, &before)
		run.note, run.skip = "kept", "kept too"

		// The step's changes, and the Cells' changes replayed on the
		// run's values, as the model expects them.
		st := fk.State
		wantList, wantTotal, wantHits := before.List.Get(), before.Total.Get(), before.Hits.Get()
		for k := 0; k+1 < len(ops); k += 2 {
			op, b := ops[k], ops[k+1]
			switch op % 16 {
			case 0:
				st.ID = string([]byte{b})
			case 1:
				st.N += int(b)
			case 2:
				if st.Tags == nil {
					st.Tags = map[string]string{}
				}
				st.Tags[string([]byte{b})] = "v"
			case 3:
				st.Items = append(st.Items, string([]byte{b}))
			case 4:
				if b%2 == 0 {
					st.Ptr = nil
				} else {
					st.Ptr = &address{City: string([]byte{b})}
				}
			case 5:
				v := string([]byte{b})
				st.List.Update(func(l []string) []string { return append(l, v) })
				wantList = append(wantList, v)
			case 6:
				st.Total.Update(func(n int) int { return n + int(b) })
				wantTotal += int(b)
			case 7:
				st.Total.Set(int(b))
				wantTotal = int(b)
			case 8:
				st.Home.City = string([]byte{b})
			case 9:
				st.Seen = string([]byte{b})
			case 10:
				st.Hits.With(func(n *int) { *n += int(b) })
				wantHits += int(b)
			case 11:
				st.When = time.Unix(int64(b), 0).UTC()
			case 12:
				st.Any = float64(b)
			case 13:
				st.Arr[b%2] = int(b)
			case 14:
				st.B = !st.B
			case 15:
				st.F = float64(b) / 3
			}
		}
		changed := func(field func(*fuzzState) any) any {
			if v := field(st); !reflect.DeepEqual(v, field(&base)) {
				return v
			}
			return field(&before)
		}
		fields := map[string]func(*fuzzState) any{
			"ID": func(s *fuzzState) any { return s.ID }, "N": func(s *fuzzState) any { return s.N },
			"U": func(s *fuzzState) any { return s.U }, "F": func(s *fuzzState) any { return s.F },
			"B": func(s *fuzzState) any { return s.B }, "Tags": func(s *fuzzState) any { return s.Tags },
			"Items": func(s *fuzzState) any { return s.Items }, "Ptr": func(s *fuzzState) any { return s.Ptr },
			"Any": func(s *fuzzState) any { return s.Any }, "Arr": func(s *fuzzState) any { return s.Arr },
			"Raw": func(s *fuzzState) any { return s.Raw }, "When": func(s *fuzzState) any { return s.When },
			"Home.City": func(s *fuzzState) any { return s.Home.City }, "Home.Street": func(s *fuzzState) any { return s.Home.Street },
			"Seen": func(s *fuzzState) any { return s.Seen },
		}
		want := map[string]any{}
		for name, field := range fields {
			want[name] = changed(field)
		}

		fk.Merge(&run)

		for name, field := range fields {
			if got := field(&run); !reflect.DeepEqual(got, want[name]) {
				t.Errorf("%s after the merge: got %#v, want %#v", name, got, want[name])
			}
		}
		if got := run.List.Get(); !reflect.DeepEqual(got, wantList) {
			t.Errorf("List: got %q, want %q", got, wantList)
		}
		if got := run.Total.Get(); got != wantTotal {
			t.Errorf("Total: got %d, want %d", got, wantTotal)
		}
		if got := run.Hits.Get(); got != wantHits {
			t.Errorf("Hits: got %d, want %d", got, wantHits)
		}
		if run.note != "kept" || run.skip != "kept too" {
			t.Errorf("unexported fields changed: %q, %q", run.note, run.skip)
		}
	})
}
