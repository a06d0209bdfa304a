-- The service reads "content": running this release's service against a schema without
-- this migration fails visibly (column "content" does not exist). That is why the
-- migration Job must finish before any pod of the new release starts.
-- +goose Up
ALTER TABLE notes RENAME COLUMN body TO content;

-- +goose Down
ALTER TABLE notes RENAME COLUMN content TO body;
