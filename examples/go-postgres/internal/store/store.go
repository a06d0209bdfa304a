// Package store reads and writes notes in PostgreSQL.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Note is one note.
type Note struct {
	ID        int64     `json:"id"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"createdAt"`
}

// Store is the notes table.
type Store struct{ pool *pgxpool.Pool }

// New wraps a pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Create inserts a note.
func (s *Store) Create(ctx context.Context, content string) (Note, error) {
	n := Note{Content: content}
	err := s.pool.QueryRow(ctx, `INSERT INTO notes (content) VALUES ($1) RETURNING id, created_at`, content).Scan(&n.ID, &n.CreatedAt)
	if err != nil {
		return Note{}, fmt.Errorf("inserting note: %w", err)
	}
	return n, nil
}

// List returns every note, oldest first.
func (s *Store) List(ctx context.Context) ([]Note, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, content, created_at FROM notes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing notes: %w", err)
	}
	defer rows.Close()
	notes := []Note{}
	for rows.Next() {
		var n Note
		if err := rows.Scan(&n.ID, &n.Content, &n.CreatedAt); err != nil {
			return nil, err
		}
		notes = append(notes, n)
	}
	return notes, rows.Err()
}
