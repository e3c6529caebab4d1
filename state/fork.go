package state

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"sync"
)

// Fork is a private copy of a saga state for one step of a durable run
// that runs steps at once. The runner makes it with [NewFork] from the
// newest snapshot, the step reads and changes State alone, and when the
// step ends [Fork.Merge] applies what it changed to the run's state. So
// the run's state is only written between steps, and a snapshot of it
// never catches a field half-written.
//
// S is the saga state type. A Fork is for one step, one goroutine.
type Fork[S any] struct {
	// State is the copy the step reads and changes; nobody else
	// touches it.
	State *S

	base   *S     // the snapshot as decoded, to tell what the step changed
	plan   []leaf // how to walk S
	merged bool
}

// NewFork decodes snapshot, made by c, into a fresh copy of the state for
// a step, and keeps a second decoded copy as the base to tell later what
// the step changed. Every [Cell] reachable in State through struct fields
// records its changes from now on, for [Fork.Merge] to replay. A decoding
// error is c's, returned as it is.
func NewFork[S any](c Codec[S], snapshot []byte) (*Fork[S], error) {
	f := &Fork[S]{State: new(S), base: new(S), plan: planFor(reflect.TypeFor[S]())}
	if err := c.Decode(snapshot, f.State); err != nil {
		return nil, err
	}
	if err := c.Decode(snapshot, f.base); err != nil {
		return nil, err
	}
	st := reflect.ValueOf(f.State).Elem()
	for _, l := range f.plan {
		if l.cell {
			field(st, l.index).Addr().Interface().(recorder).startRecording()
		}
	}
	return f, nil
}

// Merge applies to dst what the step changed in f.State since the
// snapshot, and nothing else:
//
//   - a struct is merged field by field: its exported fields, and those
//     of nested structs; unexported fields of dst are left alone (a codec
//     does not carry them). A struct that encodes itself (a Marshal or
//     Unmarshal method, like time.Time's) counts as one value.
//   - a [Cell] gets the fork's Set, Update and With calls replayed, in
//     order, under its lock, so that the additions of steps that ran at
//     once all land.
//   - any other value (a string, a slice, a map, a pointer; S itself if
//     it is not a struct) is set to the fork's if the fork's differs from
//     the snapshot's ([reflect.DeepEqual]), and is left as it is
//     otherwise, keeping what earlier merges wrote. If two steps change
//     the same one, the last merged wins: that is what a Cell is for.
//
// The fork's values are moved, not copied: f must not be used after
// Merge, and Merge panics if called twice. The caller serialises the
// Merges onto one dst; Cells in dst may meanwhile be used by others.
func (f *Fork[S]) Merge(dst *S) {
	if f.merged {
		panic("state: Fork merged twice")
	}
	f.merged = true
	st := reflect.ValueOf(f.State).Elem()
	base := reflect.ValueOf(f.base).Elem()
	d := reflect.ValueOf(dst).Elem()
	for _, l := range f.plan {
		sv, dv := field(st, l.index), field(d, l.index)
		switch {
		case l.cell:
			sv.Addr().Interface().(recorder).replayOnto(dv.Addr().Interface())
		case l.basic:
			if !sv.Equal(field(base, l.index)) {
				dv.Set(sv)
			}
		default:
			// Pointers, so that DeepEqual compares the values without
			// boxing copies of them.
			if !reflect.DeepEqual(sv.Addr().Interface(), field(base, l.index).Addr().Interface()) {
				dv.Set(sv)
			}
		}
	}
}

// recorder is implemented by *Cell[T].
type recorder interface {
	startRecording()
	replayOnto(dst any)
}

// leaf is one value Merge handles as a whole: a Cell, or a value set when
// changed.
type leaf struct {
	index []int // field indexes from S; none for S itself
	cell  bool
	basic bool // a bool, number or string: compared with ==
}

// plans caches the leaves of each state type.
var plans sync.Map // reflect.Type → []leaf

func planFor(t reflect.Type) []leaf {
	if p, ok := plans.Load(t); ok {
		return p.([]leaf)
	}
	var leaves []leaf
	walk(t, nil, &leaves)
	p, _ := plans.LoadOrStore(t, leaves)
	return p.([]leaf)
}

var (
	recorderType = reflect.TypeFor[recorder]()
	marshalers   = []reflect.Type{
		reflect.TypeFor[json.Marshaler](),
		reflect.TypeFor[json.Unmarshaler](),
		reflect.TypeFor[encoding.TextMarshaler](),
		reflect.TypeFor[encoding.TextUnmarshaler](),
		reflect.TypeFor[encoding.BinaryMarshaler](),
		reflect.TypeFor[encoding.BinaryUnmarshaler](),
	}
)

func walk(t reflect.Type, index []int, leaves *[]leaf) {
	switch {
	case reflect.PointerTo(t).Implements(recorderType):
		*leaves = append(*leaves, leaf{index: index, cell: true})
	case t.Kind() == reflect.Struct && !marshals(t):
		for i := range t.NumField() {
			sf := t.Field(i)
			// The exported fields of an unexported embedded struct are
			// promoted, encoded and settable; the struct itself is not.
			promoted := !sf.IsExported() && sf.Anonymous && sf.Type.Kind() == reflect.Struct &&
				!reflect.PointerTo(sf.Type).Implements(recorderType) && !marshals(sf.Type)
			if sf.IsExported() || promoted {
				walk(sf.Type, slices.Concat(index, []int{i}), leaves)
			}
		}
	default:
		*leaves = append(*leaves, leaf{index: index, basic: basic(t.Kind())})
	}
}

// marshals reports whether t encodes itself, so that its fields are not
// what a codec carries.
func marshals(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	for _, m := range marshalers {
		if pt.Implements(m) {
			return true
		}
	}
	return false
}

func basic(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}

// field returns the field of v at index; v itself for no index.
func field(v reflect.Value, index []int) reflect.Value {
	for _, i := range index {
		v = v.Field(i)
	}
	return v
}
