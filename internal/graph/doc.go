// Package graph holds the rules by which a saga's steps run at once over
// their dependency graph, for every runner that runs them so: package
// parallel in memory, package durable for journaled runs. One rule set,
// written once:
//
//   - Forward: a step starts as soon as every step it runs after has
//     succeeded, at most a limit at a time. The first failure cancels the
//     running steps' context, with the failure as its cause, and no new
//     step starts; Forward returns once every started step has ended.
//   - Backward: the steps that ran are compensated, each after every step
//     that depends on it, independent ones at once.
//
// A runner brings what a step is (run it, journal it); this package
// decides when.
package graph
