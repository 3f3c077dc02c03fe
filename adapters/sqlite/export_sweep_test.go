package sqlite

// SweepRegistrationsSQL is the janitor's sweep of pending registrations,
// for the query-plan tests.
var SweepRegistrationsSQL = sweepRegistrationsSQL
