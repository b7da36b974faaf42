// Package db opens the PostgreSQL pool every Postgres store shares,
// applies the schema migrations (guidecall's and River's) and builds the
// node's River client.
//
// # What it owns
//
// The connection pool settings (Open), the SQL migrations in migrations/
// (embedded, applied by Migrate and by `guidecall migrate`, followed by
// River's own), the River client that works the durable jobs of other
// packages in the pool's schema ([NewJobs]: it knows the jobs only as
// the workers and periodic jobs it is given), and the one
// classification of driver errors that means "the database cannot be
// reached right now" (IsUnavailable). Each domain store maps that, and the
// constraint errors it cares about, to its own package's errors in one
// function; db itself knows nothing of entries, links or accounts.
//
// # What it does not own
//
// The tables' meaning belongs to the domain packages (queue, payments,
// auth) whose Postgres stores read and write them. Which store a node uses
// is decided once, at the wiring point, from the configuration.
//
// # Migrations
//
// Migrations are forward-only SQL files named NNNNN_name.sql, applied in
// order with goose. Two nodes starting at once do not race: Migrate holds a
// session advisory lock while it works, keyed by database and schema, so
// the second waits and then finds nothing left to do. The key includes the
// schema because tests give every test its own schema (see dbtest) and
// must not queue behind each other.
//
// Numbers are reserved in ranges per line of work, so a file with a lower
// number may land after a database already applied higher ones; Migrate
// allows that (goose's out-of-order mode) and applies the missing file
// rather than refusing to start. Migrations must therefore not depend on
// the order of files from different ranges.
package db
