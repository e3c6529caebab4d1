// Package exampletest holds the checks the example programs' tests share:
// lines of output in order, and rows of a printed saga report.
package exampletest
