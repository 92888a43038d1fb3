package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// querier is the little of a database connection the queries need; it hides
// whether database/sql or pgx sits underneath.
type querier interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
	queryRow(ctx context.Context, q string, args ...any) row
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface{ Scan(dest ...any) error }

// sqlQuerier runs queries through database/sql (SQLite).
type sqlQuerier struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (s sqlQuerier) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlQuerier) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (s sqlQuerier) queryRow(ctx context.Context, q string, args ...any) row {
	return sqlRow{s.q.QueryRowContext(ctx, q, args...)}
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type sqlRow struct{ *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	if err := r.Row.Scan(dest...); errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	return nil
}

// pgxQuerier runs queries through pgx (PostgreSQL), rewriting the ?
// placeholders the queries are written with.
type pgxQuerier struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (p pgxQuerier) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, dollars(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (p pgxQuerier) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := p.q.Query(ctx, dollars(q), args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (p pgxQuerier) queryRow(ctx context.Context, q string, args ...any) row {
	return pgxRow{p.q.QueryRow(ctx, dollars(q), args...)}
}

type pgxRow struct{ pgx.Row }

func (r pgxRow) Scan(dest ...any) error {
	if err := r.Row.Scan(dest...); errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	return nil
}

// dollars rewrites ? placeholders to PostgreSQL's $1, $2, .... The queries
// in this package never hold a literal question mark.
func dollars(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// pgxPipe is the querier of a PostgreSQL transaction, which it begins
// with its first statement: the begin goes in the same round trip
// (pgx's Batch.BeginTx), and a transaction that runs no statement costs
// none. Writes whose outcome the caller does not read (execLater:
// timeline events, health notes) are held and go to the server in one
// round trip with the next statement that needs an answer, or with the
// flush before commit, as a pgx batch (one pipelined send), instead of
// one round trip each. A group commit's statements then cost far fewer
// round trips. An error of a held statement surfaces with the statement
// it went with; the transaction fails whole either way, and the group
// commit retries each write alone.
type pgxPipe struct {
	pool *pgxpool.Pool
	opts pgx.TxOptions
	tx   pgx.Tx // nil until the first statement is sent
	held []heldExec
}

type heldExec struct {
	sql  string
	args []any
}

func (p *pgxPipe) execLater(q string, args ...any) {
	p.held = append(p.held, heldExec{dollars(q), args})
}

// begin begins the transaction, for a caller that needs it before any
// statement (River's inserts).
func (p *pgxPipe) begin(ctx context.Context) (pgx.Tx, error) {
	if p.tx == nil {
		br, err := p.batch(ctx, "", nil)
		if err != nil {
			return nil, err
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
	}
	return p.tx, nil
}

// batch queues the begin (the first time), the held statements and then
// q, and sends them.
func (p *pgxPipe) batch(ctx context.Context, q string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	begin := p.tx == nil
	if begin {
		b.BeginTx(p.opts)
	}
	for _, h := range p.held {
		b.Queue(h.sql, h.args...)
	}
	n := len(p.held)
	p.held = nil
	if q != "" {
		b.Queue(dollars(q), args...)
	}
	var br pgx.BatchResults
	if begin {
		br = p.pool.SendBatch(ctx, b)
		// Set even when the begin failed: rolling it back releases the
		// connection.
		p.tx = br.Tx()
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, fmt.Errorf("begin: %w", err)
		}
	} else {
		br = p.tx.SendBatch(ctx, b)
	}
	for range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// flush sends what is held.
func (p *pgxPipe) flush(ctx context.Context) error {
	if len(p.held) == 0 {
		return nil
	}
	br, err := p.batch(ctx, "", nil)
	if err != nil {
		return err
	}
	return br.Close()
}

// end commits (or, with commit false, rolls back) what was begun.
func (p *pgxPipe) end(ctx context.Context, commit bool) error {
	if p.tx == nil {
		return nil
	}
	if !commit {
		_ = p.tx.Rollback(ctx)
		return nil
	}
	return p.tx.Commit(ctx)
}

func (p *pgxPipe) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if len(p.held) == 0 && p.tx != nil {
		return pgxQuerier{p.tx}.exec(ctx, q, args...)
	}
	br, err := p.batch(ctx, q, args)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (p *pgxPipe) query(ctx context.Context, q string, args ...any) (rows, error) {
	if len(p.held) == 0 && p.tx != nil {
		return pgxQuerier{p.tx}.query(ctx, q, args...)
	}
	br, err := p.batch(ctx, q, args)
	if err != nil {
		return nil, err
	}
	r, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: r, br: br}, nil
}

// batchRows are the rows of the last statement of a batch: closed, they
// close the batch, freeing the connection.
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error
}

func (r *batchRows) Close() {
	if r.br == nil {
		return
	}
	r.Rows.Close()
	r.err = r.br.Close()
	r.br = nil
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

func (p *pgxPipe) queryRow(ctx context.Context, q string, args ...any) row {
	if len(p.held) == 0 && p.tx != nil {
		return pgxQuerier{p.tx}.queryRow(ctx, q, args...)
	}
	br, err := p.batch(ctx, q, args)
	if err != nil {
		return errRow{err}
	}
	return batchRow{br}
}

// batchRow is the answer to the last statement of a batch: scanned, it
// closes the batch, freeing the connection.
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := pgxRow{r.br.QueryRow()}.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// execLater runs q now on queriers that cannot hold it.
func execLater(ctx context.Context, q querier, sql string, args ...any) error {
	if p, ok := q.(*pgxPipe); ok {
		p.execLater(sql, args...)
		return nil
	}
	_, err := q.exec(ctx, sql, args...)
	return err
}
