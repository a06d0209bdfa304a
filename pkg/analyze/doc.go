// Package analyze measures what a migration's statements do to a live database before
// they are committed: it replays the files already live on a scratch PostgreSQL, then
// runs each new statement in one transaction (rolled back at the end) and records the
// locks the backend took (pg_locks) and the tables it rewrote (pg_class.relfilenode),
// inspects the schema before and after each statement with Atlas's PostgreSQL driver, and
// runs Atlas's open analyzers (destructive DS1xx, backward-incompatible BC1xx,
// data-dependent MF1xx, constraint drops CD1xx) beside tandem's lock checks (LK1xx,
// RW101). Folders are read with Atlas's readers (goose, golang-migrate, dbmate, Flyway,
// Liquibase formatted SQL, plain .sql files).
package analyze
