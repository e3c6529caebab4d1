package saga

import (
	"reflect"
	"unsafe"
)

// A run is one allocation: its Execution, the report inside it, and the
// report's steps. The steps' array cannot be part of a type written here,
// its length being the saga's, so Build makes the run's type with package
// reflect: struct { X Execution[S]; Steps [n]StepReport }.

// runLayout is the type of a saga's runs and where their steps lie.
type runLayout struct {
	typ   reflect.Type
	steps uintptr // the offset of the step reports
}

func newRunLayout[S any](steps int) runLayout {
	typ := reflect.StructOf([]reflect.StructField{
		{Name: "X", Type: reflect.TypeFor[Execution[S]]()},
		{Name: "Steps", Type: reflect.ArrayOf(steps, reflect.TypeFor[StepReport]())},
	})
	return runLayout{typ: typ, steps: typ.Field(1).Offset}
}

// newExecution allocates a run of sg, its steps named and pending.
func (sg *Saga[S]) newExecution() *Execution[S] {
	p := reflect.New(sg.layout.typ).UnsafePointer()
	x := (*Execution[S])(p)
	x.rep.Steps = []StepReport{}
	if n := len(sg.steps); n > 0 {
		x.rep.Steps = unsafe.Slice((*StepReport)(unsafe.Add(p, sg.layout.steps)), n)
		for i := range x.rep.Steps {
			x.rep.Steps[i].Name = sg.steps[i].name // StepPending is the zero status
		}
	}
	return x
}
