// Package runid generates run identifiers: UUID version 7 strings, which
// sort by creation time (to the millisecond) and are unique without
// coordination.
package runid
