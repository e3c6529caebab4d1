// Package builder compiles saga step declarations into a validated,
// immutable [Plan].
//
// # Model
//
// A saga definition is a list of declared steps. Each declaration has a
// name, a kind (ordinary, pivot or retriable) and the names of the steps it
// runs after. [Compile] checks the declarations as a whole and turns them
// into a [Plan]:
//
//   - every name is non-empty and unique;
//   - every dependency names a declared step, and the dependencies form no
//     cycle;
//   - pivot and retriable kinds are placed consistently: there is at most
//     one pivot and every step declared after it is retriable. The pivot is
//     a barrier: it runs after every step declared before it, and every
//     step declared after it runs after it;
//   - the plan has a stable topological order (ties broken by declaration
//     order, so a chain declared in order runs in that order), the
//     dependency and dependent lists of each step, and a fingerprint.
//
// The fingerprint is a hash of everything that shapes a run: names,
// kinds, declaration order and dependencies. Durable stores keep it with a
// journaled run and refuse to resume the run with a definition whose
// fingerprint differs.
//
// Package builder knows nothing of actions or state: package saga owns the
// typed builder users call ([saga.New]) and hands its declarations here.
// Plan is immutable and safe for concurrent use.
//
// [saga.New]: https://pkg.go.dev/github.com/sagakit/sagakit/saga#New
package builder
