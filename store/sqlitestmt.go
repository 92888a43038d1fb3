package store

import (
	"context"
	"database/sql/driver"
	"strings"

	"modernc.org/sqlite"
)

// The SQLite driver prepares every statement afresh, and parsing is most of
// the cost of a small write: River's job insert and completion, and our own
// inserts, are the same few statements again and again. stmtCachingConn
// keeps each connection's prepared statements and reuses them.
//
// database/sql uses a connection from one goroutine at a time, so the cache
// needs no lock; a statement still busy with open rows (a nested query of the
// same text) is bypassed rather than shared.

// maxCachedStmts bounds the cache; the statements alertbridge and River use
// number a few dozen.
const maxCachedStmts = 256

type stmtCachingConnector struct {
	driver.Connector
}

func newStmtCachingConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return stmtCachingConnector{c}, nil
}

func (c stmtCachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &stmtCachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

type cachedStmt struct {
	stmt driver.Stmt
	busy bool
}

type stmtCachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

// cacheable excludes scripts (several statements), which the driver runs
// by parsing them one statement at a time anyway.
func cacheable(q string) bool {
	return !strings.Contains(strings.TrimRight(q, "; \t\r\n"), ";")
}

func (c *stmtCachingConn) get(ctx context.Context, q string) (*cachedStmt, error) {
	if cs, ok := c.stmts[q]; ok {
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	if !cacheable(q) {
		return nil, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		for k, cs := range c.stmts {
			if !cs.busy {
				_ = cs.stmt.Close()
				delete(c.stmts, k)
				break
			}
		}
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{stmt: st}
	c.stmts[q] = cs
	return cs, nil
}

func (c *stmtCachingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.get(ctx, q)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
	}
	cs.busy = true
	defer func() { cs.busy = false }()
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *stmtCachingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.get(ctx, q)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
	}
	cs.busy = true
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		cs.busy = false
		return nil, err
	}
	return &releasingRows{Rows: rows, cs: cs}, nil
}

func (c *stmtCachingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c *stmtCachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *stmtCachingConn) Ping(ctx context.Context) error {
	return c.Conn.(driver.Pinger).Ping(ctx)
}

func (c *stmtCachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *stmtCachingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *stmtCachingConn) Close() error {
	for _, cs := range c.stmts {
		_ = cs.stmt.Close()
	}
	c.stmts = nil
	return c.Conn.Close()
}

// releasingRows frees its statement for reuse when the rows are closed.
type releasingRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	return err
}

// Forward the optional column metadata interfaces database/sql looks for.
func (r *releasingRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}
