// Command sagactl lets an operator see, draw and operate durable saga
// runs from a terminal, without writing Go.
//
// Install it with
//
//	go install github.com/sagakit/sagakit/cmd/sagactl@latest
//
// It reads the journal that package durable keeps, in a SQLite file or a
// PostgreSQL database, and records operator requests there. It never
// runs saga code: a request (resume, retry, compensate, resolve,
// abandon) is carried out by the next worker that claims the run
// (durable's Engine.Work or Engine.Recover, in a process that registers
// the saga), which checks it against the run's status at that time.
//
// # The store
//
// --store, or the SAGAKIT_STORE environment variable, names the journal:
//
//	sqlite:PATH               a SQLite journal file
//	postgres://USER@HOST/DB   a PostgreSQL database; --schema (or
//	                          SAGAKIT_SCHEMA) names its schema, sagakit
//	                          by default
//
// sagactl never creates a journal: a SQLite file that is missing, empty,
// not a SQLite database, or a SQLite database without sagakit's tables is
// refused (it is checked on a read-only connection first), and so is a
// journal whose schema is newer than this sagactl knows. Errors name a
// PostgreSQL DSN with its password masked.
//
// # Commands
//
//	sagactl list [--status S,…] [--saga NAME] [--since 2h|7d|TIME] [--limit N]
//	sagactl inspect RUN [--entries]
//	sagactl graph SAGA|RUN [--format mermaid|dot]
//	sagactl timeline RUN [--format text|mermaid] [--width N]
//	sagactl resume RUN [--note TEXT] [--seen N] [--wait [--timeout D]]
//	sagactl retry RUN STEP [--note TEXT] [--seen N] [--wait [--timeout D]]
//	sagactl compensate RUN [--note TEXT] [--seen N] [--wait [--timeout D]]
//	sagactl resolve RUN --note TEXT [--seen N] [--wait [--timeout D]]
//	sagactl abandon RUN --note TEXT [--seen N] [--wait [--timeout D]]
//	sagactl signal RUN EVENT [--data JSON] [--delivery ID]
//	sagactl serve [--addr HOST:PORT] [--allow-remote] [--allow-actions [--token T]]
//
// RUN is a run ID or a prefix of one that no other run has; a prefix that
// several runs have is an error that names them. list prints runs newest
// first with the step each stands at (the failed one of a run that did
// not end well, the running or waiting one of an unfinished run), its
// age and duration. inspect prints the run's status, error, times, lease
// holder, pending request, wait, the number of its newest journal entry
// and unconsumed events, every step of its
// plan (those that never started too) with status, executions, attempts,
// start offset, duration, error and compensation, its state as indented
// JSON and the operators' notes with their times. graph draws a saga's
// plan, or a run's with each step colored by outcome; timeline draws a
// run in time, parallel steps overlapping, compensations after.
//
// serve serves the web dashboard of package
// github.com/sagakit/sagakit/dashboard for the store at --addr
// (127.0.0.1:8080; an address beyond the loopback interface needs
// --allow-remote). It is read-only unless --allow-actions is given, with
// a token (--token, or SAGAKIT_DASHBOARD_TOKEN; 16 characters or more)
// that a browser gives at /login or a client as a bearer token. The page
// names the store by its DSN with the password masked. It runs until
// interrupted.
//
// A verb given --seen N, the number of the newest journal entry the
// operator read (inspect shows it, and --entries numbers every entry), is
// a decision about the run as it stood then: it is refused (exit 1),
// recording nothing, if the run has changed since (a worker carried it
// on, or another operator acted on it), so that a decision made on a run
// paused by a failure is never carried out on the run as it became, say
// paused again on a step whose outcome is unknown. Inspect it again and
// decide anew. Without --seen, resume and retry are decided on the
// journal as sagactl reads it, and refused on a run paused on the unknown
// outcome of a step that is not idempotent: running that step again needs
// --seen, the person's word that they decided on the run as it stands;
// the other verbs are checked against the run's status only.
//
// With --wait, a verb follows the run until a worker has carried the
// request out and the run has stopped being driven (it ended, or waits
// for a person again; a run waiting for an event has not stopped),
// showing a live progress line on a terminal.
//
// Output is colored on a terminal only, never when piped or when NO_COLOR
// is set (--color always|never overrides).
//
// # JSON
//
// --json makes every command print JSON on stdout, with stable field
// names. list prints an array of rows, inspect a run, timeline a
// timeline: their fields are documented in package
// github.com/sagakit/sagakit/runview (Row, Run, Timeline). graph prints
// saga, run_id, status, nodes (id, step, kind, status), edges (pairs of
// step names), format and diagram (the drawing). A verb prints run_id,
// verb, step, note and requested, and with --wait also waited, refused
// (the worker's reason, if it refused the request), status, error, ended
// and ended_well. signal prints run_id, event, delivery and recorded.
//
// # Exit codes
//
//	0  done
//	1  the run is not in a good state: a verb refused for the run's
//	   status (it has ended, a request is pending, it waits for an event)
//	   or because the run changed since --seen, the request refused by
//	   the worker, or with --wait the run did not
//	   end well (resume and retry: succeeded; compensate: compensated;
//	   resolve: resolved; abandon: abandoned)
//	2  usage: bad flags, arguments or input, an ambiguous run ID prefix
//	3  not found: no such run, saga or step
//	4  store unreachable: a missing file, a file that is not a journal, a
//	   bad DSN, a server that does not answer, a schema newer than this
//	   sagactl
//
// Errors are one line on stderr, and nothing is written to stdout then.
package main
