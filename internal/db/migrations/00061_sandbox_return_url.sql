-- The page a sandbox checkout brings its shopper back to (issue 13): the
-- shop page the shopper joined the call from, already checked against the
-- merchant's origins; '' when there is none (the checkout then returns to
-- the node's own shop page). Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

ALTER TABLE sandbox_checkouts ADD COLUMN return_url text NOT NULL DEFAULT '';
